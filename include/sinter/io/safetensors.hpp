// SPDX-License-Identifier: Apache-2.0
// Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data) with PyTorch state_dict key names, so a file
// written here loads into the same PyTorch model and back. Writes go to a temporary file that is renamed; loads
// validate every key, dtype, shape and byte range before touching the module, which is unchanged on any error.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/factory.hpp>
#include <sinter/io/atomic_file.hpp>
#include <sinter/nn/module.hpp>
#include <sinter/optim/optimizer.hpp>

namespace sinter {
namespace io {

/// One tensor entry of a safetensors header.
struct SafetensorsEntry {
  std::string dtype;  // "F32", "F64", "I64", ...
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range inside the data section
};

namespace detail {

using sinter::detail::fail;

/// A small strict JSON reader for the safetensors header: objects, arrays, strings, integers (and skips other
/// values inside __metadata__).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  std::map<std::string, SafetensorsEntry> parse() {
    std::map<std::string, SafetensorsEntry> out;
    expect('{');
    if (peek() == '}') return ++i_, out;
    for (;;) {
      const std::string key = string();
      expect(':');
      if (key == "__metadata__") {
        skip_value();
      } else {
        SINTER_CHECK(!out.count(key), "load: '", path_, "' has the key '", key, "' twice");
        out[key] = entry(key);
      }
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    ws();
    SINTER_CHECK(i_ == s_.size(), "load: '", path_, "' has trailing characters after its JSON header");
    return out;
  }

 private:
  SafetensorsEntry entry(const std::string& key) {
    SafetensorsEntry e;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    expect('{');
    for (;;) {
      const std::string f = string();
      expect(':');
      if (f == "dtype") {
        e.dtype = string();
        has_dtype = true;
      } else if (f == "shape") {
        e.shape = ints();
        has_shape = true;
      } else if (f == "data_offsets") {
        auto o = ints();
        SINTER_CHECK(o.size() == 2 && o[0] >= 0 && o[1] >= o[0], "load: '", path_, "': tensor '", key,
                     "' has invalid data_offsets");
        e.begin = static_cast<std::uint64_t>(o[0]);
        e.end = static_cast<std::uint64_t>(o[1]);
        has_offsets = true;
      } else {
        skip_value();
      }
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    SINTER_CHECK(has_dtype && has_shape && has_offsets, "load: '", path_, "': tensor '", key,
                 "' lacks dtype, shape or data_offsets (corrupt header)");
    return e;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  char peek() {
    ws();
    SINTER_CHECK(i_ < s_.size(), "load: '", path_, "': the JSON header ends early (corrupt header)");
    return s_[i_];
  }
  void expect(char c) {
    SINTER_CHECK(peek() == c, "load: '", path_, "': expected '", c, "' at byte ", i_,
                 " of the JSON header (corrupt header)");
    ++i_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        SINTER_CHECK(++i_ < s_.size(), "load: '", path_, "': bad escape in the JSON header");
        const char c = s_[i_];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c;  // \uXXXX is not used in tensor names; kept verbatim
      } else {
        out += s_[i_];
      }
      ++i_;
    }
    SINTER_CHECK(i_ < s_.size(), "load: '", path_, "': unterminated string in the JSON header");
    ++i_;
    return out;
  }
  std::int64_t integer() {
    ws();
    const std::size_t start = i_;
    const bool negative = i_ < s_.size() && s_[i_] == '-';
    if (negative) ++i_;
    std::int64_t v = 0;
    const std::size_t digits = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && i_ - digits < 18) v = v * 10 + (s_[i_++] - '0');
    SINTER_CHECK(i_ > digits && (i_ == s_.size() || s_[i_] < '0' || s_[i_] > '9'), "load: '", path_,
                 "': expected an integer of at most 18 digits at byte ", start, " of the JSON header");
    return negative ? -v : v;
  }
  std::vector<std::int64_t> ints() {
    std::vector<std::int64_t> v;
    expect('[');
    if (peek() == ']') return ++i_, v;
    for (;;) {
      v.push_back(integer());
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return v;
    }
  }
  void skip_value(int depth = 0) {
    SINTER_CHECK(depth < 64, "load: '", path_, "': the JSON header nests deeper than 64 levels (corrupt header)");
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      if (peek() == close) return void(++i_);
      for (;;) {
        if (c == '{') {
          string();
          expect(':');
        }
        skip_value(depth + 1);
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(close);
        return;
      }
    } else {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    }
  }

  std::string_view s_;
  std::string path_;
  std::size_t i_ = 0;
};

inline const char* st_dtype(DType d) { return d == DType::Float32 ? "F32" : d == DType::Float64 ? "F64" : "I64"; }

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace detail

/// Writes named tensors as a safetensors file, atomically (temporary file, then rename).
void save_safetensors(const nn::NamedTensors& tensors, const std::string& path);

/// A parsed safetensors file: its entries and the file's bytes.
struct SafetensorsFile {
  std::map<std::string, SafetensorsEntry> entries;
  std::string bytes;           // the whole file
  std::size_t data_start = 0;  // where the data section begins in `bytes`
  const char* data() const { return bytes.data() + data_start; }
  std::size_t data_size() const { return bytes.size() - data_start; }
};

/// Parses a safetensors file held in memory; `path` names it in errors. Every entry's shape, dtype and byte range is
/// checked against the data section, so the entries can be copied from without further checks.
SafetensorsFile parse_safetensors(std::string bytes, const std::string& path);

SafetensorsFile read_safetensors(const std::string& path);

/// Copies the file's tensors into `targets` (same names, shapes, dtypes); validates everything first, so on any
/// error nothing is changed. `what` names the object in messages.
void load_into(const nn::NamedTensors& targets, const SafetensorsFile& f, const std::string& path,
               const std::string& what);

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void save_safetensors(const nn::NamedTensors& tensors, const std::string& path) {
  std::ostringstream header;
  header << '{';
  std::uint64_t offset = 0;
  std::vector<std::shared_ptr<TensorImpl>> data;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const auto& [name, t0] = tensors[k];
    SINTER_CHECK(t0.defined(), "save: tensor '", name, "' is undefined");
    auto c = TensorImpl::empty(t0.shape(), t0.dtype(), kCPU);  // a host, contiguous copy
    sinter::detail::copy_into(*c, *t0.impl(), false);
    const std::uint64_t bytes = static_cast<std::uint64_t>(c->numel()) * element_size(c->dtype);
    header << (k ? "," : "") << '"' << detail::json_escape(name) << "\":{\"dtype\":\"" << detail::st_dtype(c->dtype)
           << "\",\"shape\":[";
    for (int i = 0; i < c->shape.size(); ++i) header << (i ? "," : "") << c->shape[i];
    header << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
    offset += bytes;
    data.push_back(std::move(c));
  }
  header << (tensors.empty() ? "" : ",") << "\"__metadata__\":{\"format\":\"pt\",\"writer\":\"sinter\"}}";
  std::string h = header.str();
  while (h.size() % 8) h += ' ';  // the data section starts 8-byte aligned
  detail::write_atomically(path, "save", [&](std::ostream& out) {
    const std::uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& c : data)
      out.write(static_cast<const char*>(c->data()),
                static_cast<std::streamsize>(static_cast<std::size_t>(c->numel()) * element_size(c->dtype)));
  });
}

SINTER_SHARED SafetensorsFile parse_safetensors(std::string bytes, const std::string& path) {
  const std::size_t size = bytes.size();
  SINTER_CHECK(size >= 8, "load: '", path, "' is too short to be a safetensors file (", size, " bytes)");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  SINTER_CHECK(n <= size - 8 && n <= (100u << 20), "load: '", path, "' announces a header of ", n,
               " bytes, which does not fit the file (corrupt header or not a safetensors file)");
  SafetensorsFile f;
  f.entries = detail::HeaderParser(std::string_view(bytes).substr(8, static_cast<std::size_t>(n)), path).parse();
  f.bytes = std::move(bytes);
  f.data_start = 8 + static_cast<std::size_t>(n);
  for (const auto& [key, e] : f.entries) {
    const std::uint64_t esize = e.dtype == "F32" || e.dtype == "I32" ? 4 : (e.dtype == "F64" || e.dtype == "I64") ? 8
                                : e.dtype == "BF16" || e.dtype == "F16"                     ? 2
                                : e.dtype == "U8" || e.dtype == "BOOL"                      ? 1
                                                                                            : 0;
    SINTER_CHECK(esize != 0, "load: '", path, "': tensor '", key, "' has unknown dtype '", e.dtype, "'");
    SINTER_CHECK(e.end <= f.data_size(), "load: '", path, "': tensor '", key, "' has data_offsets [", e.begin, ", ",
                 e.end, "] beyond the end of the file's ", f.data_size(), " bytes of data (truncated?)");
    SINTER_CHECK(e.shape.size() <= static_cast<std::size_t>(kMaxRank), "load: '", path, "': tensor '", key, "' has ",
                 e.shape.size(), " dims; sinter supports at most ", kMaxRank);
    std::uint64_t bytes_needed = esize;  // stays <= the data section's size, so it cannot overflow
    for (auto d : e.shape) {
      SINTER_CHECK(d >= 0, "load: '", path, "': tensor '", key, "' has a negative dimension");
      const auto ud = static_cast<std::uint64_t>(d);
      SINTER_CHECK(ud == 0 || bytes_needed <= (e.end - e.begin) / ud, "load: '", path, "': tensor '", key,
                   "' has data_offsets [", e.begin, ", ", e.end, "] that do not match its shape");
      bytes_needed *= ud;
    }
    SINTER_CHECK(e.end - e.begin == bytes_needed, "load: '", path, "': tensor '", key, "' has data_offsets [", e.begin,
                 ", ", e.end, "] that do not match its shape");
  }
  return f;
}

SINTER_SHARED SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  SINTER_CHECK(in.good(), "load: cannot open '", path, "'; check the path");
  const std::streamoff size = in.tellg();
  SINTER_CHECK(size >= 0, "load: cannot read '", path, "'");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  SINTER_CHECK(in.good() || size == 0, "load: reading '", path, "' failed");
  return parse_safetensors(std::move(bytes), path);
}

SINTER_SHARED void load_into(const nn::NamedTensors& targets, const SafetensorsFile& f, const std::string& path,
                      const std::string& what) {
  for (const auto& [name, t] : targets) {
    auto it = f.entries.find(name);
    SINTER_CHECK(it != f.entries.end(), "load: '", path, "' has no tensor '", name, "' that the ", what,
                 " expects (missing key)");
    const auto& e = it->second;
    SINTER_CHECK(e.dtype == detail::st_dtype(t.dtype()), "load: tensor '", name, "' in '", path, "' is ", e.dtype,
                 " but the ", what, " holds ", detail::st_dtype(t.dtype()));
    Shape s;
    for (auto d : e.shape) s.push_back(d);
    SINTER_CHECK(s == t.shape(), "load: size mismatch for '", name, "': the checkpoint has shape ", s,
                 ", the ", what, " has shape ", t.shape());
  }
  for (const auto& [key, e] : f.entries) {
    bool known = false;
    for (const auto& [name, t] : targets) known = known || name == key;
    SINTER_CHECK(known, "load: '", path, "' has an unexpected key '", key, "' that the ", what, " does not have");
  }
  NoGradGuard guard;
  for (const auto& [name, t] : targets) {
    const auto& e = f.entries.at(name);
    auto src = TensorImpl::empty(t.shape(), t.dtype(), kCPU);
    if (e.end > e.begin) std::memcpy(src->data(), f.data() + e.begin, static_cast<std::size_t>(e.end - e.begin));
    sinter::detail::copy_into(*t.impl(), *src, false);
  }
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace io

/// Saves a module's parameters and buffers (its state_dict) as safetensors at `path`.
inline void save(const nn::Module& module, const std::string& path) { io::save_safetensors(module.state_dict(), path); }

/// Loads a checkpoint written by save() (or by PyTorch's safetensors) into `module`; strict like
/// load_state_dict(strict=True). On error the module is unchanged.
void load(nn::Module& module, const std::string& path);

/// Saves an optimiser's per-parameter state ("state.<index>.<name>", PyTorch's numbering).
inline void save(const optim::Optimizer& opt, const std::string& path) {
  io::save_safetensors(opt.state_tensors(), path);
}

/// Restores an optimiser's state saved by save(); each state tensor must match its parameter's shape.
void load(optim::Optimizer& opt, const std::string& path);

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void load(nn::Module& module, const std::string& path) {
  io::load_into(module.state_dict(), io::read_safetensors(path), path, "module");
}

SINTER_SHARED void load(optim::Optimizer& opt, const std::string& path) {
  const auto f = io::read_safetensors(path);
  nn::NamedTensors named;
  for (const auto& [key, e] : f.entries) {
    SINTER_CHECK(key.rfind("state.", 0) == 0, "load: '", path, "' has an unexpected key '", key,
                 "' for an optimizer (expected state.<index>.<name>)");
    Shape s;
    for (auto d : e.shape) s.push_back(d);
    SINTER_CHECK(e.dtype == "F32", "load: optimizer state '", key, "' in '", path, "' is ", e.dtype, ", expected F32");
    named.emplace_back(key, zeros(s));
  }
  io::load_into(named, f, path, "optimizer");
  opt.load_state_tensors(named);
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter
