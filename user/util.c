// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Strict parsing and formatting of addresses, prefixes, durations, rates. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mailgate.h"

bool addr_is_v4(const struct mg_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->a, prefix, sizeof(prefix)) == 0;
}

int parse_addr(const char *s, struct mg_addr *out)
{
	struct in_addr v4;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &v4) == 1) {
		out->a[10] = out->a[11] = 0xff;
		memcpy(&out->a[12], &v4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1)
		return 0;
	return -EINVAL;
}

int parse_cidr(const char *s, struct mg_lpm_key *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	struct mg_addr a;
	uint32_t len, max;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (parse_addr(buf, &a))
		return -EINVAL;
	/* "::ffff:a.b.c.d" written as IPv6 stays an IPv6-style prefix length */
	max = (addr_is_v4(&a) && strchr(buf, ':') == NULL) ? 32 : 128;
	len = max;
	if (slash && parse_u32(slash + 1, 0, max, &len))
		return -EINVAL;
	if (max == 32)
		len += 96;
	/* host bits must be zero: 192.0.2.1/24 is almost always a typo */
	for (uint32_t bit = len; bit < 128; bit++)
		if (a.a[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	out->prefixlen = len;
	memcpy(out->a, a.a, 16);
	return 0;
}

int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int unit_ns(const char *u, uint64_t *mult)
{
	if (!strcmp(u, "") || !strcmp(u, "s"))
		*mult = NSEC_PER_SEC;
	else if (!strcmp(u, "ms"))
		*mult = NSEC_PER_SEC / 1000;
	else if (!strcmp(u, "m"))
		*mult = 60 * NSEC_PER_SEC;
	else if (!strcmp(u, "h"))
		*mult = 3600 * NSEC_PER_SEC;
	else if (!strcmp(u, "d"))
		*mult = 86400 * NSEC_PER_SEC;
	else
		return -EINVAL;
	return 0;
}

int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	unsigned long long v;
	uint64_t mult;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || unit_ns(end, &mult) || v > UINT64_MAX / mult)
		return -EINVAL;
	*ns = v * mult;
	return 0;
}

int parse_rate(const char *s, uint64_t *interval_ns)
{
	char *end;
	double v, iv;
	uint64_t per;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '/' || v < 0 || v > 1e9)
		return -EINVAL;
	if (unit_ns(end + 1, &per) || end[1] == 0)
		return -EINVAL;
	if (v == 0) {
		*interval_ns = 0; /* off */
		return 0;
	}
	/* the interval must be a whole number of ns the data path can add:
	 * faster than 1e9/s or slower than one per MG_RATE_MAX_INTERVAL_NS is
	 * refused, never converted out of range */
	iv = (double)per / v;
	if (!(iv >= 1.0) || iv > (double)MG_RATE_MAX_INTERVAL_NS)
		return -EINVAL;
	*interval_ns = (uint64_t)iv;
	return 0;
}

int rate_span_check(uint64_t interval_ns, uint32_t burst)
{
	return burst && interval_ns > MG_RATE_MAX_SPAN_NS / burst ? -ERANGE : 0;
}

const char *format_addr(const struct mg_addr *a, char *buf, size_t len)
{
	if (addr_is_v4(a))
		inet_ntop(AF_INET, &a->a[12], buf, len);
	else
		inet_ntop(AF_INET6, a->a, buf, len);
	return buf;
}

const char *format_cidr(const struct mg_lpm_key *k, char *buf, size_t len)
{
	struct mg_addr a;
	char tmp[MG_ADDRSTRLEN];
	uint32_t plen = k->prefixlen;

	memcpy(a.a, k->a, 16);
	if (addr_is_v4(&a) && plen >= 96)
		plen -= 96;
	snprintf(buf, len, "%s/%u", format_addr(&a, tmp, sizeof(tmp)), plen);
	return buf;
}

const char *format_duration(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / NSEC_PER_SEC;
	static const struct { uint64_t secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t off = 0;
	int parts = 0;

	if (s == 0) {
		snprintf(buf, len, ns ? "%llums" : "0s", (unsigned long long)(ns / 1000000));
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && parts < 2; i++) {
		if (s >= units[i].secs) {
			off += snprintf(buf + off, off < len ? len - off : 0, "%llu%c",
					(unsigned long long)(s / units[i].secs), units[i].unit);
			s %= units[i].secs;
			parts++;
		} else if (parts) {
			break;
		}
	}
	return buf;
}

uint64_t now_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}
