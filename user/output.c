// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* One writer for --json and human output. */
#include <stdarg.h>
#include <stdio.h>
#include <json-c/json.h>
#include "mailgate.h"

int fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (opts.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "exit_code", json_object_new_int(code));
		json_out(o);
	} else {
		fprintf(stderr, "mailgate: %s\n", msg);
	}
	return code;
}

void json_out(struct json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

const char *format_count(double v, char *buf, size_t len)
{
	static const char *const sfx[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, v < 10 ? "%.1f%s" : "%.0f%s", v, sfx[i]);
	return buf;
}
