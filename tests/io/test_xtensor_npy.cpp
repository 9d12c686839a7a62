// SPDX-License-Identifier: Apache-2.0
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <support/reference.hpp>
#include <sinter/io/npy.hpp>
#include <xtensor/xview.hpp>

namespace st = sinter;
using testing::TD;

namespace {
std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() / ("sinter_npy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}
std::string shell_quote(const std::string& s) { return "'" + s + "'"; }
}  // namespace

TEST_CASE("as_xtensor views a tensor's memory, strides included", "[io][xtensor]") {
  st::Tensor t = st::arange(6).reshape({2, 3});
  auto v = st::as_xtensor(t);
  CHECK(v.dimension() == 2);
  CHECK(v(1, 2) == 5.0f);
  v(0, 1) = 42.0f;  // writes through
  CHECK(t.to_vector()[1] == 42.0f);
  const st::Tensor tt = t.t();
  auto vt = st::as_xtensor(tt);
  CHECK(vt.shape()[0] == 3);
  CHECK(vt(2, 1) == 5.0f);
  CHECK(vt(1, 0) == 42.0f);
  const st::Tensor sl = st::arange(10).slice(0, 1, 9, 3);  // 1, 4, 7
  auto vs = st::as_xtensor(sl);
  CHECK(vs(2) == 7.0f);
  const xt::xarray<float> copy = vs;  // evaluating the strided view reads exactly its three elements
  CHECK(copy == xt::xarray<float>{1.0f, 4.0f, 7.0f});
}

TEST_CASE("from_xtensor shares an lvalue container and evaluates expressions", "[io][xtensor]") {
  xt::xarray<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  TD t = st::from_xtensor(a);
  CHECK(t.shape() == st::Shape{2, 3});
  a(1, 1) = -5.0;  // zero-copy: the tensor sees the change
  CHECK(t.to_vector() == std::vector<double>{1, 2, 3, 4, -5, 6});
  TD e = st::from_xtensor(a * 2.0 + 1.0);  // a lazy xtensor expression: evaluated into a new tensor
  CHECK(e.to_vector() == std::vector<double>{3, 5, 7, 9, -9, 13});
  xt::xtensor<float, 2> b = xt::ones<float>({3, 2});
  auto col = xt::view(b, xt::all(), 1);
  st::Tensor c = st::from_xtensor(col);
  CHECK(c.shape() == st::Shape{3});
  CHECK(c.to_vector() == std::vector<float>{1, 1, 1});
  // Round trip through sinter's own expressions.
  TD y = st::exp(t) * 0.0 + t;
  const bool same = st::as_xtensor(y) == a;
  CHECK(same);
}

TEST_CASE("save_npy and load_npy round-trip, and numpy agrees", "[io][npy]") {
  const auto dir = temp_dir();
  const std::string p = (dir / "x.npy").string();
  st::manual_seed(51);
  const TD x = st::randn<double>({3, 4}).t();  // non-contiguous on purpose
  st::save_npy(x, p);
  CHECK_FALSE(std::filesystem::exists(p + ".sinter-tmp"));
  const TD back = st::load_npy<double>(p);
  CHECK(back.shape() == st::Shape{4, 3});
  CHECK(back.to_vector() == x.to_vector());
  CHECK(st::load_npy<float>(p).to_vector() == x.to<float>().to_vector());
  st::save_npy(st::from_vector<std::int64_t>({5, -2, 9}), (dir / "i.npy").string());
  CHECK(st::load_npy<std::int64_t>((dir / "i.npy").string()).to_vector() == std::vector<std::int64_t>{5, -2, 9});

  // numpy reads what we wrote and writes Fortran-order and int32 files we read.
  const std::string script = (dir / "check.py").string();
  std::ofstream(script) << "import numpy as np, sys\n"
                           "d = sys.argv[1]\n"
                           "x = np.load(d + '/x.npy')\n"
                           "assert x.shape == (4, 3) and x.dtype == np.float64\n"
                           "np.save(d + '/xf.npy', np.asfortranarray(x * 2))\n"
                           "np.save(d + '/i32.npy', np.arange(6, dtype=np.int32).reshape(2, 3))\n"
                           "np.save(d + '/u8.npy', np.zeros(3, dtype=np.uint8))\n";
  REQUIRE(std::system((std::string(SINTER_TEST_PYTHON) + " " + shell_quote(script) + " " + shell_quote(dir.string())).c_str()) == 0);
  const TD xf = st::load_npy<double>((dir / "xf.npy").string());
  const auto xv = x.to_vector();
  const auto fv = xf.to_vector();
  REQUIRE(fv.size() == xv.size());
  for (std::size_t i = 0; i < fv.size(); ++i) CHECK(fv[i] == 2 * xv[i]);
  CHECK(st::load_npy<float>((dir / "i32.npy").string()).to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});

  CHECK_THROWS_WITH(st::load_npy<float>((dir / "u8.npy").string()),
                    Catch::Contains("holds elements of type '|u1', which sinter does not read"));
  CHECK_THROWS_WITH(st::load_npy<float>((dir / "missing.npy").string()),
                    Catch::StartsWith("sinter: load_npy: cannot open"));
  {  // truncated: drop the last bytes
    std::ifstream in(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / "cut.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 5);
    std::ofstream(dir / "junk.npy", std::ios::binary) << "definitely not numpy";
  }
  CHECK_THROWS_WITH(st::load_npy<double>((dir / "cut.npy").string()), Catch::Contains("is truncated"));
  CHECK_THROWS_WITH(st::load_npy<double>((dir / "junk.npy").string()), Catch::Contains("is not a valid .npy file"));
  CHECK_THROWS_WITH(st::save_npy(x, (dir / "no" / "such" / "dir.npy").string()),
                    Catch::StartsWith("sinter: save_npy: cannot open"));
  std::filesystem::remove_all(dir);
}

namespace {
/// A .npy file with the given header dict and data bytes (version 1.0 unless the preamble is given whole).
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string h = dict + "\n";
  const auto len = static_cast<std::uint16_t>(h.size());
  return std::string("\x93NUMPY\x01\x00", 8) + std::string(1, static_cast<char>(len & 0xff)) +
         std::string(1, static_cast<char>(len >> 8)) + h + data;
}
std::string npy_error(const std::string& bytes) {
  try {
    st::detail::parse_npy<float>(bytes, "x.npy");
  } catch (const st::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("load_npy checks every length in a hostile header before allocating", "[io][npy][fuzz]") {
  using Catch::Matchers::Contains;
  const std::string f4(8, '\0');  // two float zeros
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  CHECK(st::detail::parse_npy<float>(npy_bytes(ok, f4), "x.npy").to_vector() == std::vector<float>{0, 0});
  // Keys in any order and double quotes are Python literals too.
  CHECK(st::detail::parse_npy<float>(npy_bytes("{\"shape\": (1, 2), 'descr': '<f4', 'fortran_order': True}", f4),
                                     "x.npy").shape() == st::Shape{1, 2});

  CHECK_THAT(npy_error("\x93NUMPY"), Contains("does not start with the .npy magic string"));
  CHECK_THAT(npy_error(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14)),
             Contains("the header announces 4294967295 bytes but the file has only 2"));
  CHECK_THAT(npy_error(std::string("\x93NUMPY\x01\x00\x00\x00", 10)), Contains("the header's dict ends early"));
  CHECK_THAT(npy_error(std::string("\x93NUMPY\x04\x00\x00\x00", 10)), Contains("unsupported format version 4.0"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999)}", f4)),
             Contains("is truncated: its header announces the shape [99999999999, 99999999999]"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1234567890123456789,)}", f4)),
             Contains("expected a dimension of at most 18 digits"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4)),
             Contains("has 4 bytes after its 4 bytes of data"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4)),
             Contains("the key 'descr' appears twice"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'shape': (2,)}", f4)), Contains("lacks one of"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", f4)),
             Contains("fortran_order must be True or False"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", f4)),
             Contains("holds elements of type '>f4'"));
  CHECK_THAT(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}", f4)),
             Contains("more than 8 dims"));

  // Found by fuzz_npy (tests/fuzz/regressions/npy/float_beyond_int64): a float file read as int64 held 1.2e22, and
  // the cast was undefined behaviour. It is now an error, as it is for to<int64_t>() of any such value.
  std::ifstream in(std::string(SINTER_SOURCE_DIR) + "/tests/fuzz/regressions/npy/float_beyond_int64", std::ios::binary);
  const std::string found((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(found.size() > 128);
  CHECK_NOTHROW(st::detail::parse_npy<float>(found, "found.npy"));
  CHECK_THROWS_WITH(st::detail::parse_npy<std::int64_t>(found, "found.npy"),
                    Contains("cannot be represented as an int64"));
}
