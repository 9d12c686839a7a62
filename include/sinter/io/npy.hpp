// SPDX-License-Identifier: Apache-2.0
// NumPy .npy files through xtensor's reader and writer. Saving writes a temporary file and renames it, so a reader
// never sees a half-written file; loading checks the header, the element type and the length.
#pragma once

#include <fstream>
#include <string>

#include <xtensor/xnpy.hpp>

#include <sinter/io/atomic_file.hpp>
#include <sinter/io/xtensor.hpp>

namespace sinter {

/// Writes t to `path` as a little-endian, C-order .npy file (float32, float64 or int64), atomically.
template <class T>
void save_npy(const TensorOf<T>& t, const std::string& path) {
  const TensorOf<T> c = t.to(kCPU).contiguous();
  io::detail::write_atomically(path, "save_npy",
                               [&](std::ostream& out) { xt::detail::dump_npy_stream(out, as_xtensor(c)); });
}

namespace detail {
template <class S, class T>
TensorOf<T> npy_as(xt::detail::npy_file& f) {
  auto a = std::move(f).cast<S>(false);
  TensorOf<S> t = from_xtensor(a);  // shares the adaptor's buffer; the copy below outlives it
  if constexpr (std::is_same_v<S, T>) return t.clone();
  else return t.template to<T>();
}
}  // namespace detail

/// Reads a .npy file into a new tensor of T. Files of float32, float64, int64 and int32 are read and converted to T
/// (np.load(path).astype(T)); C and Fortran order both load with the right values.
template <class T = float>
TensorOf<T> load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SINTER_CHECK(in.good(), "load_npy: cannot open '", path, "'; check the path");
  xt::detail::npy_file f = [&]() -> xt::detail::npy_file {
    try {
      return xt::detail::load_npy_file(in);
    } catch (const std::exception& e) {
      detail::fail("load_npy: '", path, "' is not a valid .npy file (", e.what(), ")");
    }
  }();
  SINTER_CHECK(!in.fail(), "load_npy: '", path, "' is truncated: the header announces ", f.n_bytes(),
               " bytes of data but the file ends early");
  const std::string& ty = f.m_typestring;
  if (ty == "<f4") return detail::npy_as<float, T>(f);
  if (ty == "<f8") return detail::npy_as<double, T>(f);
  if (ty == "<i8") return detail::npy_as<std::int64_t, T>(f);
  if (ty == "<i4") {
    auto a = std::move(f).cast<std::int32_t>(false);
    auto out = empty<T>([&] {
      Shape s;
      for (auto d : a.shape()) s.push_back(static_cast<std::int64_t>(d));
      return s;
    }());
    auto v = as_xtensor(out);
    v = xt::cast<T>(a);
    return out;
  }
  detail::fail("load_npy: '", path, "' holds elements of type '", ty,
       "', which sinter does not read; save it as float32, float64, int64 or int32 (little-endian)");
}

}  // namespace sinter
