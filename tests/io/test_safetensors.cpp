// SPDX-License-Identifier: Apache-2.0
// Checkpoints: round trips, a 20-line numpy reader and writer on the other side, and every error leaving the
// module unchanged.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <support/reference.hpp>

#include <sinter/io/safetensors.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>

namespace st = sinter;
namespace nn = sinter::nn;

namespace {
std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() / ("sinter_st_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}
std::shared_ptr<nn::Sequential> model() {
  return std::make_shared<nn::Sequential>(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::Flatten(),
                                          nn::Linear(8, 3));
}
bool same_state(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (std::size_t i = 0; i < sa.size(); ++i)
    if (sa[i].first != sb[i].first || sa[i].second.to_vector() != sb[i].second.to_vector()) return false;
  return true;
}
int python(const std::string& code, const std::string& arg) {
  const auto script = temp_dir() / "script.py";
  std::ofstream(script) << code;
  return std::system((std::string(SINTER_TEST_PYTHON) + " '" + script.string() + "' '" + arg + "'").c_str());
}
// The numpy side: a complete safetensors reader and writer in a few lines, as a PyTorch user would check a file.
const char* kNumpyIo = R"(import json, struct, sys
import numpy as np
DT = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
def read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop('__metadata__', None)
    data = b[8 + n:]
    return {k: np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], DT[v['dtype']]).reshape(v['shape'])
            for k, v in h.items()}
def write(path, tensors):
    header, off, blobs = {}, 0, []
    for k, a in tensors.items():
        raw = np.ascontiguousarray(a).tobytes()
        header[k] = {'dtype': {np.float32: 'F32'}[a.dtype.type], 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        off += len(raw); blobs.append(raw)
    h = json.dumps(header).encode(); h += b' ' * (-len(h) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
)";
}  // namespace

TEST_CASE("save and load round-trip a module's state_dict", "[io][safetensors]") {
  const auto dir = temp_dir();
  const std::string p = (dir / "m.safetensors").string();
  st::manual_seed(110);
  auto a = model();
  auto b = model();
  CHECK_FALSE(same_state(*a, *b));
  st::save(*a, p);
  CHECK_FALSE(std::filesystem::exists(p + ".sinter-tmp"));
  st::load(*b, p);
  CHECK(same_state(*a, *b));
  const st::Tensor x = st::randn({2, 1, 4, 4});
  a->eval();
  b->eval();
  CHECK((*a)(x).to_vector() == (*b)(x).to_vector());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a numpy reader sees PyTorch's keys and our values, and a numpy-written file loads", "[io][safetensors][numpy]") {
  const auto dir = temp_dir();
  const std::string p = (dir / "m.safetensors").string();
  st::manual_seed(111);
  auto m = model();
  st::save(*m, p);
  const auto w = m->at<nn::Linear>(3).weight.to_vector();
  const std::string check = std::string(kNumpyIo) + R"(
t = read(sys.argv[1])
assert sorted(t) == sorted(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var',
                            '1.num_batches_tracked', '3.weight', '3.bias']), sorted(t)
assert t['3.weight'].shape == (3, 8) and t['0.weight'].shape == (2, 1, 3, 3)
assert abs(float(t['3.weight'][1, 2]) - )" + std::to_string(w[1 * 8 + 2]) + R"() < 1e-5
out = {k: (v * 2).astype(np.float32) for k, v in t.items()}
write(sys.argv[1] + '.doubled', out)
)";
  REQUIRE(python(check, p) == 0);
  auto twice = model();
  st::load(*twice, p + ".doubled");
  const auto w2 = twice->at<nn::Linear>(3).weight.to_vector();
  for (std::size_t i = 0; i < w.size(); ++i) CHECK(w2[i] == 2 * w[i]);
  std::filesystem::remove_all(dir);
}

TEST_CASE("bad checkpoints fail with the key named and leave the module unchanged", "[io][safetensors][errors]") {
  const auto dir = temp_dir();
  const std::string good = (dir / "good.safetensors").string();
  st::manual_seed(112);
  auto src = model();
  st::save(*src, good);
  auto target = model();
  auto before = model();
  st::load(*before, (st::save(*target, (dir / "snapshot.safetensors").string()), (dir / "snapshot.safetensors").string()));

  nn::Sequential wider(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::Flatten(), nn::Linear(8, 4));
  CHECK_THROWS_WITH(st::load(wider, good), Catch::Contains("size mismatch for '3.weight'"));
  nn::Sequential fewer(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)));
  CHECK_THROWS_WITH(st::load(fewer, good), Catch::Contains("unexpected key '1.bias'"));
  nn::Sequential more(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::Flatten(), nn::Linear(8, 3),
                      nn::Linear(3, 3));
  CHECK_THROWS_WITH(st::load(more, good), Catch::Contains("has no tensor '4.weight'"));

  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir / "cut.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  std::string corrupt = bytes;
  corrupt[8] = '!';  // the header's opening brace
  std::ofstream(dir / "corrupt.safetensors", std::ios::binary) << corrupt;
  std::ofstream(dir / "tiny.safetensors", std::ios::binary) << "abc";
  std::string huge = bytes;
  huge[7] = '\x7f';
  std::ofstream(dir / "huge.safetensors", std::ios::binary) << huge;
  CHECK_THROWS_WITH(st::load(*target, (dir / "cut.safetensors").string()), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(st::load(*target, (dir / "corrupt.safetensors").string()), Catch::Contains("JSON header"));
  CHECK_THROWS_WITH(st::load(*target, (dir / "tiny.safetensors").string()), Catch::Contains("too short"));
  CHECK_THROWS_WITH(st::load(*target, (dir / "huge.safetensors").string()), Catch::Contains("does not fit the file"));
  CHECK_THROWS_WITH(st::load(*target, (dir / "missing.safetensors").string()), Catch::StartsWith("sinter: load: cannot open"));
  CHECK(same_state(*target, *before));  // nothing was half-loaded
  CHECK_THROWS_WITH(st::save(*target, (dir / "no" / "dir.safetensors").string()),
                    Catch::StartsWith("sinter: save: cannot open"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("optimiser state round-trips: training resumes exactly", "[io][safetensors][optim]") {
  const auto dir = temp_dir();
  st::manual_seed(113);
  st::Tensor w = st::randn({4, 3}).requires_grad_();
  const st::Tensor x = st::randn({5, 4});
  auto step = [&](st::optim::Optimizer& o) {
    o.zero_grad();
    st::sum(st::tanh(st::matmul(x, w))).backward();
    o.step();
  };
  st::optim::Adam a({w}, st::optim::AdamOptions(0.05));
  step(a);
  step(a);
  st::save(a, (dir / "opt.safetensors").string());
  const st::Tensor w_saved = w.clone().detach();
  step(a);
  const auto want = w.to_vector();
  // Restore the parameter and the optimiser state into a fresh optimiser and take the same step.
  { st::NoGradGuard g; w.copy_(w_saved); }
  st::optim::Adam b({w}, st::optim::AdamOptions(0.05));
  st::load(b, (dir / "opt.safetensors").string());
  step(b);
  CHECK(w.to_vector() == want);
  std::filesystem::remove_all(dir);
}

TEST_CASE("optimiser state for other parameters is refused", "[io][safetensors][optim][errors]") {
  const auto dir = temp_dir();
  st::Tensor w = st::ones({4}).requires_grad_();
  st::optim::SGD a({w}, st::optim::SGDOptions(0.1).momentum(0.9));
  w.impl()->grad = st::ones({4}).impl();
  a.step();
  st::save(a, (dir / "sgd.safetensors").string());
  st::Tensor other = st::ones({5}).requires_grad_();
  st::optim::SGD b({other}, st::optim::SGDOptions(0.1).momentum(0.9));
  CHECK_THROWS_WITH(st::load(b, (dir / "sgd.safetensors").string()),
                    Catch::Contains("size mismatch for optimizer state 'state.0.momentum_buffer'"));
  st::optim::Adam c({w});
  CHECK_THROWS_WITH(st::load(c, (dir / "sgd.safetensors").string()), Catch::Contains("is not a state of this optimizer"));
  std::filesystem::remove_all(dir);
}

namespace {
/// A safetensors file in memory: the 8-byte length, the JSON header, then `data`.
std::string safetensors_bytes(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}
std::string parse_error(const std::string& bytes) {
  try {
    st::io::parse_safetensors(bytes, "x.safetensors");
  } catch (const st::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("hostile safetensors headers are errors, never overflows, deep recursion or foreign exceptions",
          "[io][safetensors][fuzz]") {
  using Catch::Matchers::Contains;
  const auto good = st::io::parse_safetensors(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"a":[1,{"b":2}]}})",
                        std::string(8, '\0')),
      "x.safetensors");
  CHECK(good.entries.at("w").end == 8);
  CHECK(good.data_size() == 8);
  // A lone minus sign used to reach std::stoll, whose std::invalid_argument is not a sinter error.
  CHECK_THAT(parse_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-],"data_offsets":[0,0]}})")),
             Contains("expected an integer of at most 18 digits"));
  // 10000 nested arrays in the metadata would overflow the stack of a recursive skipper.
  CHECK_THAT(parse_error(safetensors_bytes("{\"__metadata__\":" + std::string(10000, '[') + std::string(10000, ']') + "}")),
             Contains("nests deeper than 64 levels"));
  // 2^40 x 2^40 x 2^40 elements: the byte count used to overflow int64 (and could match an empty range).
  CHECK_THAT(parse_error(safetensors_bytes(
                 R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776,16777216],"data_offsets":[0,0]}})")),
             Contains("do not match its shape"));
  CHECK_THAT(parse_error(safetensors_bytes(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}})", "abcd")),
             Contains("do not match its shape"));
  CHECK_THAT(parse_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "ab")),
             Contains("beyond the end of the file's 2 bytes of data"));
  CHECK_THAT(parse_error(safetensors_bytes(R"({"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}})", "abcd")),
             Contains("unknown dtype 'Q9'"));
  CHECK_THAT(parse_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})",
                                           "abcd")),
             Contains("has 9 dims; sinter supports at most 8"));
}
