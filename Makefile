# mailgate build. Everything generated lives under $(OUTPUT); `make clean` removes it.
OUTPUT    ?= .output
CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= gcc
PREFIX    ?= /usr/local
DESTDIR   ?=
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VERSION   := 0.1.0
MAN_DATE  := $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)

CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Werror -std=gnu11 -I$(OUTPUT) -Iinclude -Iuser -DMG_VERSION=\"$(VERSION)\"
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) -Iinclude -Ibpf
# every compile writes the headers it read into a .d file next to its output
# (make includes them below): an object is rebuilt when a header it uses changes
DEPFLAGS   = -MMD -MP -MF $@.d -MT $@
LDLIBS    := -lbpf -lelf -lz -lcares -lmicrohttpd -linih -ljson-c -lsystemd -lcurl -lpthread -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
SKEL_NAMES := $(patsubst bpf/%.bpf.c,%,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS))
# the test library (selftests/lib/): helpers every test and benchmark links
TLIB_SRCS := $(wildcard selftests/lib/*.c)
TLIB_OBJS := $(patsubst selftests/lib/%.c,$(OUTPUT)/selftests/lib/%.o,$(TLIB_SRCS))
TLIB      := $(OUTPUT)/selftests/libmgtest.a
TEST_SRCS := $(wildcard selftests/test_*.c)
TESTS     := $(patsubst selftests/%.c,$(OUTPUT)/selftests/%,$(TEST_SRCS))
BENCH_SRCS := $(wildcard selftests/bench_*.c)
BENCHES   := $(patsubst selftests/%.c,$(OUTPUT)/selftests/%,$(BENCH_SRCS))
MANS      := $(OUTPUT)/man/mailgate.8 $(OUTPUT)/man/mailgate.conf.5
# the fail2ban action (examples/fail2ban/action.d/*.conf), installed under
# /etc/fail2ban/action.d/ by `make install` and the package when present
F2B_ACTIONS := $(wildcard examples/fail2ban/action.d/*.conf)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all deps test demo bench clean install deb
all: $(OUTPUT)/mailgate $(TESTS) $(BENCHES) $(MANS)

# the build's own packages (scripts/install-deps.sh build): checked before
# anything is made (every output dir waits for it), installed only when one
# is missing (root), else named in the error; `make test`, `make demo` and
# `make bench` add theirs in their recipes
deps:
	$(Q)scripts/install-deps.sh build

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/selftests $(OUTPUT)/selftests/lib $(OUTPUT)/man: | deps
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	$(Q)cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/user/%.o: user/%.c | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# A skeleton is a prerequisite of exactly the objects whose source includes
# it (libbpf-bootstrap's per-app rule; found with grep, so a new #include
# needs no edit here): the first build makes it before them, a change of
# bpf/X.bpf.c rebuilds only its users.
skel_users = $(shell grep -l '^\#include "$(1).skel.h"' $(2) 2>/dev/null)
define skel_deps
$(patsubst user/%.c,$(OUTPUT)/user/%.o,$(call skel_users,$(1),$(USER_SRCS))): $(OUTPUT)/$(1).skel.h
$(patsubst selftests/lib/%.c,$(OUTPUT)/selftests/lib/%.o,$(call skel_users,$(1),$(TLIB_SRCS))): $(OUTPUT)/$(1).skel.h
$(patsubst selftests/%.c,$(OUTPUT)/selftests/%,$(call skel_users,$(1),$(TEST_SRCS) $(BENCH_SRCS))): $(OUTPUT)/$(1).skel.h
endef
$(foreach s,$(SKEL_NAMES),$(eval $(call skel_deps,$(s))))

$(OUTPUT)/mailgate: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# (the test helpers' headers may include a skeleton too: the skeletons are
# made before any test object, the .d files say which it then depends on)
$(OUTPUT)/selftests/lib/%.o: selftests/lib/%.c | $(OUTPUT)/selftests/lib $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -Iselftests -c $< -o $@

$(TLIB): $(TLIB_OBJS) | $(OUTPUT)/selftests
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(OUTPUT)/selftests/%: selftests/%.c $(TLIB) $(LIB_OBJS) | $(OUTPUT)/selftests $(SKELS)
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -Iselftests $< $(TLIB) $(LIB_OBJS) -o $@ $(LDLIBS)

# man pages: mailgate(8) is written by hand (a test checks it names every
# command and option), mailgate.conf(5) is made from examples/mailgate.conf
$(OUTPUT)/man/mailgate.8: man/mailgate.8 Makefile | $(OUTPUT)/man
	$(call msg,MAN,$@)
	$(Q)sed 's/@VERSION@/$(VERSION)/;s/@DATE@/$(MAN_DATE)/' $< > $@

$(OUTPUT)/man/mailgate.conf.5: examples/mailgate.conf scripts/conf2man.sh Makefile | $(OUTPUT)/man
	$(call msg,MAN,$@)
	$(Q)scripts/conf2man.sh $< $(VERSION) $(MAN_DATE) > $@

test: all
	$(Q)scripts/install-deps.sh test
	$(Q)selftests/run.sh

demo: all
	$(Q)scripts/install-deps.sh demo
	$(Q)scripts/demo.sh

bench: all
	$(Q)scripts/install-deps.sh bench
	$(Q)scripts/bench.sh

install: $(OUTPUT)/mailgate $(MANS)
	install -D -m 0755 $(OUTPUT)/mailgate $(DESTDIR)$(PREFIX)/sbin/mailgate
	install -D -m 0644 examples/mailgate.conf $(DESTDIR)/etc/mailgate/mailgate.conf.example
	sed 's#/usr/local/sbin/mailgate#$(PREFIX)/sbin/mailgate#' examples/mailgate.service > $(OUTPUT)/mailgate.service
	install -D -m 0644 $(OUTPUT)/mailgate.service $(DESTDIR)/lib/systemd/system/mailgate.service
	install -D -m 0644 $(OUTPUT)/man/mailgate.8 $(DESTDIR)$(PREFIX)/share/man/man8/mailgate.8
	install -D -m 0644 $(OUTPUT)/man/mailgate.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/mailgate.conf.5
	install -D -m 0644 completion/mailgate.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mailgate
	$(foreach f,$(F2B_ACTIONS),install -D -m 0644 $(f) $(DESTDIR)/etc/fail2ban/action.d/$(notdir $(f));)

# the Debian package .output/mailgate_VERSION_ARCH.deb (scripts/mkdeb.sh)
deb: $(OUTPUT)/mailgate $(MANS)
	$(Q)scripts/install-deps.sh deb
	$(Q)OUTPUT=$(OUTPUT) VERSION=$(VERSION) F2B_ACTIONS="$(F2B_ACTIONS)" scripts/mkdeb.sh

clean:
	rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/user/*.d $(OUTPUT)/selftests/*.d $(OUTPUT)/selftests/lib/*.d)

.DELETE_ON_ERROR:
.SECONDARY:
