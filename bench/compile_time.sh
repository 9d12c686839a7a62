#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compile time and peak memory of sinter programs (header-only, then each file in compiled mode) and of a minimal
# libtorch MLP, with g++ -O2 and clang++ -O2,
# measured one after the other on this machine (GNU time). Usage: bash bench/compile_time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() {  # name, then the compile command
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/t" "$@" -o "${output:-$out/a.out}"
  read -r secs kib < "$out/t"
  printf "RESULT compile.%s %s s %d MiB\n" "$name" "$secs" $((kib / 1024))
  echo "$secs" > "$out/$name.secs"
}
# g++ (the issue's yardstick) and, when installed, clang++; keys of clang's lines start with compile.clang.
run_with() {  # compiler, key prefix
  local cxx=$1 prefix=$2
  local flags=(-std=c++20 -O2 -march=native -fopenmp -Iinclude)
  measure "${prefix}twenty_expressions" "$cxx" "${flags[@]}" bench/compile/twenty_expressions.cpp
  measure "${prefix}fashion_mnist_mlp" "$cxx" "${flags[@]}" examples/fashion_mnist_mlp.cpp -lz
  measure "${prefix}fashion_mnist_cnn" "$cxx" "${flags[@]}" examples/fashion_mnist_cnn.cpp -lz
  measure "${prefix}custom_module" "$cxx" "${flags[@]}" examples/custom_module.cpp -lz
  # Compiled mode (docs/compiled_mode.md): the same files compiled to objects with SINTER_COMPILED, and the one
  # implementation file a program of any number of files compiles once.
  printf '#include <sinter/implementation.hpp>\n' > "$out/implementation.cpp"
  measure "${prefix}compiled.implementation_file" "$cxx" "${flags[@]}" -DSINTER_COMPILED -c "$out/implementation.cpp"
  local f
  for f in bench/compile/twenty_expressions.cpp examples/fashion_mnist_mlp.cpp examples/fashion_mnist_cnn.cpp \
           examples/custom_module.cpp; do
    measure "${prefix}compiled.$(basename "$f" .cpp)" "$cxx" "${flags[@]}" -DSINTER_COMPILED -c "$f"
  done
  # sinter_compiled_mode(<target> PRECOMPILE_HEADERS): the public headers precompiled once per target, then each file.
  printf '#include <sinter/sinter.hpp>\n#include <sinter/nn.hpp>\n#include <sinter/optim.hpp>\n#include <sinter/data.hpp>\n' \
    > "$out/sinter_pch.hpp"
  local use_pch=(-include "$out/sinter_pch.hpp" -Werror=invalid-pch)
  if [ "$prefix" = clang. ]; then
    output="$out/sinter_pch.hpp.pch" measure "${prefix}compiled.precompiled_header" "$cxx" "${flags[@]}" \
      -DSINTER_COMPILED -x c++-header "$out/sinter_pch.hpp"
    use_pch=(-include-pch "$out/sinter_pch.hpp.pch")
  else
    output="$out/sinter_pch.hpp.gch" measure "${prefix}compiled.precompiled_header" "$cxx" "${flags[@]}" \
      -DSINTER_COMPILED -x c++-header "$out/sinter_pch.hpp"
  fi
  for f in bench/compile/twenty_expressions.cpp examples/fashion_mnist_mlp.cpp examples/fashion_mnist_cnn.cpp \
           examples/custom_module.cpp; do
    measure "${prefix}compiled_pch.$(basename "$f" .cpp)" "$cxx" "${flags[@]}" -DSINTER_COMPILED "${use_pch[@]}" -c "$f"
  done
  rm -f "$out/sinter_pch.hpp.gch" "$out/sinter_pch.hpp.pch"
  local torch_inc
  torch_inc=$(dpkg -L libtorch-dev 2>/dev/null | grep -m1 '/torch/csrc/api/include$' || true)
  if [ -n "$torch_inc" ]; then
    measure "${prefix}libtorch_mlp" "$cxx" -std=c++17 -O2 -D_GLIBCXX_USE_CXX11_ABI=1 -isystem "$torch_inc" \
      bench/compile/libtorch_mlp.cpp -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10
    awk -v s="$(cat "$out/${prefix}fashion_mnist_mlp.secs")" -v t="$(cat "$out/${prefix}libtorch_mlp.secs")" \
      -v k="${prefix}" 'BEGIN { printf "RESULT compile.%sratio_sinter_mlp_over_libtorch_mlp %.2f x\n", k, s / t }'
  else
    echo "libtorch-dev not installed: the peer's compile time is not measured"
  fi
}
run_with "${CXX:-g++}" ""
if command -v clang++ >/dev/null; then
  run_with clang++ clang.
else
  echo "clang++ not installed: only g++ is measured"
fi
