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
# Extern instances are declared only through SINTER_*_INSTANCES lists, and implementation.hpp instantiates each list
# with the same arguments: an extern template nobody instantiates links only while every use happens to be inlined.
direct=$(grep -rnE 'SINTER_EXTERN_TEMPLATE\((class|struct|void|[A-Za-z_:<>]+ )' sinter | grep -v '^sinter/config\.hpp:' || true)
if [ -n "$direct" ]; then
  echo "sinter: extern instances declared outside a SINTER_*_INSTANCES list (implementation.hpp cannot instantiate them):"
  echo "$direct"
  missing=1
fi
while read -r list args; do
  if ! grep -qF "$list(SINTER_INSTANTIATE$args)" sinter/implementation.hpp; then
    echo "sinter: $list(SINTER_EXTERN_TEMPLATE$args) is declared but <sinter/implementation.hpp> does not instantiate it"
    missing=1
  fi
done < <(grep -rhoE '^SINTER_[A-Z0-9_]+_INSTANCES\(SINTER_EXTERN_TEMPLATE(, *[A-Za-z0-9_:]+)?\)' sinter |
         sed -E 's/^(SINTER_[A-Z0-9_]+_INSTANCES)\(SINTER_EXTERN_TEMPLATE(.*)\)$/\1 \2/')
[ "$missing" = 0 ] && echo "implementation.hpp includes every header with compiled-mode definitions and instantiates every extern list"
exit "$missing"
