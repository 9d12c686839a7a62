#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every header with compiled-mode definitions (SINTER_DEFINE_SHARED blocks) or extern instances
# (SINTER_EXTERN_TEMPLATE) must be included by <sinter/implementation.hpp>; otherwise a compiled-mode program that
# uses it fails to link. Usage: covers_shared_headers.sh <source dir> <C++ compiler>
set -euo pipefail
src=$1 cxx=$2
cd "$src/include"
deps=$("$cxx" -std=c++20 -DSINTER_COMPILED -I. -M -x c++ sinter/implementation.hpp)
missing=0
for h in $(grep -rlE 'SINTER_DEFINE_SHARED|SINTER_EXTERN_TEMPLATE\(' sinter | grep -vE '^sinter/(config|implementation)\.hpp$'); do
  if ! grep -q "$h" <<<"$deps"; then
    echo "sinter: $h has compiled-mode definitions but <sinter/implementation.hpp> does not include it"
    missing=1
  fi
done
[ "$missing" = 0 ] && echo "implementation.hpp includes every header with compiled-mode definitions"
exit "$missing"
