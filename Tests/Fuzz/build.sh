#!/usr/bin/env bash
# Builds the libFuzzer target: the `pohmelfs-fuzz` product with -sanitize=fuzzer,address, in its
# own scratch path (.build-fuzz) so ordinary builds are untouched. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --scratch-path .build-fuzz --product pohmelfs-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPOHMELFS_LIBFUZZER >&2
echo "$(swift build --scratch-path .build-fuzz --show-bin-path)/pohmelfs-fuzz"
