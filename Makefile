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
LDLIBS    := -lbpf -lelf -lz -lcares -lmicrohttpd -linih -ljson-c -lsystemd -lcurl -lpthread -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS))
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
all: deps $(OUTPUT)/mailgate $(TESTS) $(BENCHES) $(MANS)

deps:
	$(Q)scripts/install-deps.sh

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/selftests $(OUTPUT)/man:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	$(Q)cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard include/*.h) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) $(SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/mailgate: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUTPUT)/selftests/%: selftests/%.c $(wildcard selftests/*.h) $(LIB_OBJS) $(SKELS) | $(OUTPUT)/selftests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Iselftests $< $(LIB_OBJS) -o $@ $(LDLIBS)

# man pages: mailgate(8) is written by hand (a test checks it names every
# command and option), mailgate.conf(5) is made from examples/mailgate.conf
$(OUTPUT)/man/mailgate.8: man/mailgate.8 Makefile | $(OUTPUT)/man
	$(call msg,MAN,$@)
	$(Q)sed 's/@VERSION@/$(VERSION)/;s/@DATE@/$(MAN_DATE)/' $< > $@

$(OUTPUT)/man/mailgate.conf.5: examples/mailgate.conf scripts/conf2man.sh Makefile | $(OUTPUT)/man
	$(call msg,MAN,$@)
	$(Q)scripts/conf2man.sh $< $(VERSION) $(MAN_DATE) > $@

test: all
	$(Q)selftests/run.sh

demo: all
	$(Q)scripts/demo.sh

bench: all
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
	$(Q)OUTPUT=$(OUTPUT) VERSION=$(VERSION) F2B_ACTIONS="$(F2B_ACTIONS)" scripts/mkdeb.sh

clean:
	rm -rf $(OUTPUT)

.DELETE_ON_ERROR:
.SECONDARY:
