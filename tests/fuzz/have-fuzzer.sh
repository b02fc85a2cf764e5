#!/bin/sh
# Whether CC (default clang) can build libFuzzer targets with ASan and
# UBSan. Exit 0 when it can; else exit 1 and say why on stdout (make test
# turns that into skipped TAP lines, make fuzz stops with it).
cc=${1:-clang}
if ! command -v "$cc" > /dev/null 2>&1; then
	echo "$cc not found (install clang and libclang-rt-14-dev: make deps)"
	exit 1
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$dir/t.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" > "$dir/log" 2>&1; then
	echo "$cc cannot link -fsanitize=fuzzer,address,undefined (libFuzzer runtime missing? install libclang-rt-14-dev: make deps)"
	exit 1
fi
exit 0
