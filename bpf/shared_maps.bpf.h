/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The maps the XDP gate (gate.bpf.c) and the SYN-cookie TC program
 * (syncookie.bpf.c) share through their pins: defined once here, so that
 * the two objects can never disagree on a definition (a pinned map is
 * reused only when it matches). */
#ifndef MAILGATE_SHARED_MAPS_BPF_H
#define MAILGATE_SHARED_MAPS_BPF_H

/* runtime tunables: two slots, the one mg_ctl.config_slot names is in
 * effect (the controller writes the other one, then flips the index) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct mg_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_config SEC(".maps");

/* the controller's word: config slot, heartbeat */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mg_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_ctl SEC(".maps");

/* gated ports: port -> class (0 = not gated) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_ports SEC(".maps");

/* global state: event budget */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_global);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_global SEC(".maps");

#endif /* MAILGATE_SHARED_MAPS_BPF_H */
