// SPDX-License-Identifier: Apache-2.0
// conv2d through im2col and the GEMM, NCHW layout like PyTorch. On the CPU one image at a time: its column matrix
// is built by the thread that owns the image and read by the GEMM while in its cache, the GEMM writes the NCHW output
// directly, and the backward works image by image from the columns the forward kept (one pass each way); 1x1 kernels
// with stride 1 need no columns and depthwise ones run as direct loops (cpu_conv_path). On a GPU one
// GEMM per group over the whole batch (M = out channels, N = batch x output pixels), which fills the device; its
// backward is one GEMM for the weight gradient, one for the column gradient and col2im.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <memory>
#include <optional>
#include <vector>

#include <sinter/backend/cpu/gemm.hpp>
#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/dispatch.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn::functional {

/// Geometry of one 2-D convolution.
struct Conv2dGeometry {
  std::int64_t N, C, H, W, OC, KH, KW, OH, OW;
  std::int64_t sh, sw, ph, pw, dh, dw, groups;
  SINTER_HD std::int64_t Cg() const { return C / groups; }
  SINTER_HD std::int64_t OCg() const { return OC / groups; }
  SINTER_HD std::int64_t Kg() const { return Cg() * KH * KW; }  // rows of the column matrix per group
  SINTER_HD std::int64_t P() const { return N * OH * OW; }       // columns of the column matrix
};

namespace detail {

using sinter::detail::count_kernel;

/// The output columns [lo, hi) whose input column ow*sw - pw + kw*dw lies inside the image.
inline std::pair<std::int64_t, std::int64_t> valid_columns(const Conv2dGeometry& g, std::int64_t kw) {
  const std::int64_t off = kw * g.dw - g.pw;  // iw = ow * sw + off
  if (g.sw == 1) {  // no division: im2col calls this once per row of columns (150 times per LeNet image)
    const std::int64_t lo = std::clamp<std::int64_t>(-off, 0, g.OW);
    return {lo, std::clamp<std::int64_t>(g.W - off, lo, g.OW)};
  }
  std::int64_t lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  std::int64_t hi = g.W - off <= 0 ? 0 : (g.W - off + g.sw - 1) / g.sw;
  lo = std::min(lo, g.OW);
  hi = std::clamp<std::int64_t>(hi, lo, g.OW);
  return {lo, hi};
}

// ---- device kernels: one element per index, the same layouts as the CPU loops below -------------------------------

template <class T>
struct Im2colKernel {
  const T* x;
  T* cols;
  Conv2dGeometry g;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t P = g.P(), r = i / P, q = i % P;
    const std::int64_t c = r / (g.KH * g.KW), kh = (r / g.KW) % g.KH, kw = r % g.KW;
    const std::int64_t n = q / (g.OH * g.OW), oh = (q / g.OW) % g.OH, ow = q % g.OW;
    const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    cols[i] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x[((n * g.C + c) * g.H + ih) * g.W + iw] : T(0);
  }
};

/// The adjoint of im2col as a gather: each input element sums the column entries that read it (no atomics).
template <class T>
struct Col2imKernel {
  const T* dcols;
  T* dx;
  Conv2dGeometry g;
  bool accumulate;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t iw = i % g.W, ih = (i / g.W) % g.H, c = (i / (g.W * g.H)) % g.C, n = i / (g.W * g.H * g.C);
    const std::int64_t P = g.P();
    T acc(0);
    for (std::int64_t kh = 0; kh < g.KH; ++kh) {
      const std::int64_t th = ih + g.ph - kh * g.dh;  // = oh * sh
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.OH) continue;
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        const std::int64_t tw = iw + g.pw - kw * g.dw;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.OW) continue;
        acc += dcols[((c * g.KH + kh) * g.KW + kw) * P + (n * g.OH + th / g.sh) * g.OW + tw / g.sw];
      }
    }
    dx[i] = accumulate ? dx[i] + acc : acc;
  }
};

/// out[n, oc, p] = y[oc, n*OHW + p] + bias[oc] (forward), or, with to_gemm, y[oc, n*OHW + p] = out[n, oc, p].
template <class T>
struct NchwGemmKernel {
  const T* src;
  const T* bias;
  T* dst;
  Conv2dGeometry g;
  bool to_gemm;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t ohw = g.OH * g.OW, p = i % ohw, oc = (i / ohw) % g.OC, n = i / (ohw * g.OC);
    const std::int64_t k = oc * g.P() + n * ohw + p;
    if (to_gemm) dst[k] = src[i];
    else dst[i] = src[k] + (bias ? bias[oc] : T(0));
  }
};

/// db[oc] (+)= sum of row oc of the output gradient in GEMM layout (both devices).
template <class T>
struct BiasGradKernel {
  const T* gt;
  T* db;
  std::int64_t P;
  bool accumulate;
  SINTER_HD void operator()(std::int64_t oc) const {
    T s(0);
    for (std::int64_t p = 0; p < P; ++p) s += gt[oc * P + p];
    db[oc] = accumulate ? db[oc] + s : s;
  }
};

using sinter::detail::launch_for_each;
using sinter::detail::launch_gemm;

// ---- CPU: one image at a time --------------------------------------------------------------------------------

/// Row r = (c*KH + kh)*KW + kw of a column matrix, stepped along without dividing (three divisions per row were a
/// tenth of LeNet's second im2col).
struct ColumnRow {
  std::int64_t c = 0, kh = 0, kw = 0;
  void next(const Conv2dGeometry& g) {
    if (++kw < g.KW) return;
    kw = 0;
    if (++kh < g.KH) return;
    kh = 0;
    ++c;
  }
};

/// Row stride of a column matrix on the CPU: its OH*OW columns rounded up to an odd number of cache lines, so the
/// GEMM reads its panels in place without the rows aliasing in L1 (cpu::rows_spread_over_l1): 1024 columns become
/// 1040, and the 3x3 64 -> 64 forward GEMM 0.56 -> 0.41 ms per 32x32 image, with no packing pass.
template <class T>
std::int64_t column_stride(const Conv2dGeometry& g) {
  constexpr std::int64_t line = 64 / sizeof(T);
  const std::int64_t lines = (g.OH * g.OW + line - 1) / line;
  return (lines | 1) * line;
}

/// Elements of one image's column matrix: C*KH*KW rows of column_stride.
template <class T>
std::int64_t image_columns(const Conv2dGeometry& g) {
  return g.C * g.KH * g.KW * column_stride<T>(g);
}

/// Unit strides and an output as wide as the input (a "same" padding, the ResNet case): im2col and col2im then move
/// whole rows of a plane (SameWidthTap).
inline bool same_width(const Conv2dGeometry& g) { return g.sh == 1 && g.sw == 1 && g.OW == g.W; }

/// One tap (kh, kw) of a same_width convolution: output element p = oh*W + ow reads the plane at p + offset wherever that lies inside the image.
/// Output rows [oh_lo, oh_hi) read inside it, columns [z0, z1) fall on the padding (empty when dx is 0), and the run
/// [p0, p1) of those rows is where p + offset stays inside the plane (its elements outside lie in padding columns).
struct SameWidthTap {
  std::int64_t offset, oh_lo, oh_hi, z0, z1, p0, p1;
  SameWidthTap(const Conv2dGeometry& g, std::int64_t kh, std::int64_t kw) {
    const std::int64_t W = g.W, dy = kh * g.dh - g.ph, dx = kw * g.dw - g.pw;  // ih = oh + dy, iw = ow + dx
    offset = dy * W + dx;
    oh_lo = std::clamp<std::int64_t>(-dy, 0, g.OH), oh_hi = std::clamp(g.H - dy, oh_lo, g.OH);
    z0 = dx < 0 ? 0 : W - std::min(dx, W), z1 = dx < 0 ? std::min(-dx, W) : W;
    if (dx == 0) z0 = z1 = 0;
    p0 = std::max(oh_lo * W, -offset), p1 = std::min(oh_hi * W, g.H * W - offset);
  }
  /// row[oh*W + ow] = 0 on the padding columns of the rows that read the image. Column by column, down the rows: a
  /// loop along a row of one or two zeros becomes a memset call per row in g++ (12 000 calls per 32x32 image of a
  /// 3x3 layer).
  template <class T>
  void zero_padding_columns(T* row, std::int64_t W) const {
    for (std::int64_t ow = z0; ow < z1; ++ow)
      for (std::int64_t oh = oh_lo; oh < oh_hi; ++oh) row[oh * W + ow] = T(0);
  }
};

/// im2col_image for SameWidthTap's case: each row of columns is one contiguous copy of the plane, then the padding
/// columns and rows are zeroed. The per-output-row loop of the general form spends more on its bounds than on copying
/// 32 floats (3x3 over 32x32: 18 000 pieces per image).
template <class T>
void im2col_image_same_width(const T* x, T* cols, const Conv2dGeometry& g) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t ld = column_stride<T>(g), W = g.W, plane = g.H * W;
  ColumnRow at;
  for (std::int64_t r = 0; r < g.C * g.KH * g.KW; ++r, at.next(g)) {
    const auto [c, kh, kw] = at;
    const SameWidthTap tap(g, kh, kw);
    T* o = cols + r * ld;
    std::fill(o, o + tap.oh_lo * W, T(0));
    std::fill(o + tap.oh_hi * W, o + g.OH * W, T(0));
    const T* src = x + c * plane + tap.offset;  // src[p] is the input of output element p
    std::int64_t p = tap.p0;
    for (; p + L <= tap.p1; p += L) V::load_unaligned(src + p).store_unaligned(o + p);
    for (; p < tap.p1; ++p) o[p] = src[p];
    tap.zero_padding_columns(o, W);  // after the copy, which wrote neighbouring rows' elements there
  }
}

/// cols[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (0 outside), for one image,
/// rows column_stride apart (the elements past OH*OW in each row are never read). x_end bounds the input buffer. With
/// unit stride the rows are copied in whole vectors that may run past the row's end, on both sides: the extra elements
/// read stay inside the input buffer (checked against x_end) and the extra ones written fall on the row's padding or
/// the next row of columns, which is written after (so never past this image's columns). LeNet's second layer copies
/// rows 10 wide, where a loop per element and its bounds cost as much as the copy.
template <class T>
void im2col_image(const T* x, const T* x_end, T* cols, const Conv2dGeometry& g) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  if (same_width(g)) return im2col_image_same_width(x, cols, g);
  const std::int64_t rows = g.C * g.KH * g.KW, ld = column_stride<T>(g);
  T* const cols_end = cols + rows * ld;
  ColumnRow at;
  for (std::int64_t r = 0; r < rows; ++r, at.next(g)) {
    const auto [c, kh, kw] = at;
    const T* plane = x + c * g.H * g.W;
    const auto [lo, hi] = valid_columns(g, kw);
    const std::int64_t first = lo * g.sw - g.pw + kw * g.dw;
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      T* o = cols + r * ld + oh * g.OW;
      const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih < 0 || ih >= g.H) {
        for (std::int64_t ow = 0; ow < g.OW; ++ow) o[ow] = T(0);
        continue;
      }
      const T* src = plane + ih * g.W + first - lo * g.sw;  // src[ow * sw] is the input of output column ow
      std::int64_t ow = lo;
      if (g.sw == 1)
        for (; ow < hi && x_end - src - ow >= L && cols_end - o - ow >= L; ow += L)
          V::load_unaligned(src + ow).store_unaligned(o + ow);
      if (ow < hi) {
        if (g.sw == 1)
          for (; ow < hi; ++ow) o[ow] = src[ow];
        else
          for (; ow < hi; ++ow) o[ow] = src[ow * g.sw];
      }
      for (std::int64_t z = 0; z < lo; ++z) o[z] = T(0);  // after the copy: it may have run over these
      for (std::int64_t z = hi; z < g.OW; ++z) o[z] = T(0);
    }
  }
}

/// dx[c, ih, iw] (+)= the column entries that read it (the adjoint of im2col_image), for one image.
template <class T>
void col2im_image(const T* dcols, T* dx, const Conv2dGeometry& g, bool accumulate) {
  const std::int64_t ohw = g.OH * g.OW;
  if (!accumulate) std::fill_n(dx, g.C * g.H * g.W, T(0));
  ColumnRow at;
  for (std::int64_t r = 0; r < g.C * g.KH * g.KW; ++r, at.next(g)) {
    const auto [c, kh, kw] = at;
    const auto [lo, hi] = valid_columns(g, kw);
    for (std::int64_t oh = 0; oh < g.OH; ++oh) {
      const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* s = dcols + r * ohw + oh * g.OW;
      T* d = dx + (c * g.H + ih) * g.W + kw * g.dw - g.pw;  // d[ow * sw] is the input column of output column ow
      for (std::int64_t ow = lo; ow < hi; ++ow) d[ow * g.sw] += s[ow];
    }
  }
}

/// col2im_image for unit strides and an output as wide as the input (the adjoint of im2col_image_same_width): per
/// channel, each tap's row of the column gradient is added to the input-gradient plane as one contiguous shifted
/// run, after its entries in padding columns (which would land on a neighbouring row) are zeroed. The plane stays in
/// L1 over the channel's taps. Overwrites those entries of dcols, which is the backward's own scratch.
template <class T>
void col2im_image_same_width(T* dcols, T* dx, const Conv2dGeometry& g, bool accumulate) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t W = g.W, plane = g.H * W, ohw = g.OH * g.OW;
  // The centre tap (no shift) covers the plane's first OH rows: without accumulation it is stored rather than added,
  // so the plane needs no zeroing pass (a memset of the whole input gradient, 2% of a ResNet layer's backward).
  const std::int64_t ckh = g.ph % g.dh == 0 ? g.ph / g.dh : -1, ckw = g.pw % g.dw == 0 ? g.pw / g.dw : -1;
  const bool centre = ckh >= 0 && ckh < g.KH && ckw >= 0 && ckw < g.KW;
  for (std::int64_t c = 0; c < g.C; ++c) {
    T* d = dx + c * plane;
    if (!accumulate && centre) {
      const T* s = dcols + ((c * g.KH + ckh) * g.KW + ckw) * ohw;
      const std::int64_t n = std::min(g.OH, g.H) * W;
      std::copy(s, s + n, d);
      std::fill(d + n, d + plane, T(0));
    } else if (!accumulate) {
      std::fill(d, d + plane, T(0));
    }
    for (std::int64_t kh = 0; kh < g.KH; ++kh)
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        if (!accumulate && centre && kh == ckh && kw == ckw) continue;
        T* s = dcols + ((c * g.KH + kh) * g.KW + kw) * ohw;
        const SameWidthTap tap(g, kh, kw);
        tap.zero_padding_columns(s, W);  // their entries would land on a neighbouring row
        T* t = d + tap.offset;           // t[p] is the input element that column entry p read
        std::int64_t p = tap.p0;
        for (; p + L <= tap.p1; p += L) (V::load_unaligned(t + p) + V::load_unaligned(s + p)).store_unaligned(t + p);
        for (; p < tap.p1; ++p) t[p] += s[p];
      }
  }
}

/// Readable elements a column gradient needs before and after it for col2im_image_gathered (the lanes it reads
/// there are discarded).
template <class T>
std::int64_t col2im_slack_front(const Conv2dGeometry& g) {
  return (g.KW - 1) * g.dw;
}
template <class T>
std::int64_t col2im_slack_back(const Conv2dGeometry& g) {
  return g.W + g.pw + static_cast<std::int64_t>(cpu::vec<T>::size);
}

/// col2im_image for unit column stride, gathered instead of scattered: each vector of an input row sums, in a
/// register, the column-gradient entries of every tap (kh, kw) that read it, and is stored once. The scatter form
/// adds each of the KH*KW column rows into memory element by element (LeNet's second layer: 1500 adds of 10 elements
/// per image, a tenth of the training step); a vectorised scatter loses to the store forwarding of rows that overlap.
/// Lanes that fall outside a column row read a neighbour (or the slack around dcols: col2im_slack_front/back) and are
/// dropped by select, never multiplied, so whatever they hold cannot leak into the sum.
template <class T>
void col2im_image_gathered(const T* dcols, T* dx, const Conv2dGeometry& g, bool accumulate) {
  using V = cpu::vec<T>;
  using M = typename V::batch_bool_type;
  constexpr std::int64_t L = V::size;
  const std::int64_t ohw = g.OH * g.OW, plane = g.H * g.W;
  T* const dx_end = dx + g.C * plane;
  alignas(64) T iota_v[L];
  for (std::int64_t l = 0; l < L; ++l) iota_v[l] = static_cast<T>(l);
  const V iota = V::load_aligned(iota_v);
  // Not std::vector<M>: nvcc checks initializer_list<M>'s constexpr members as device code and rejects the SIMD
  // register inside M (this header is also compiled into CUDA translation units).
  const auto tap_mask = std::make_unique<M[]>(static_cast<std::size_t>(g.KW));
  for (std::int64_t iw0 = 0; iw0 < g.W; iw0 += L) {
    // Lane l is input column iw0 + l; tap kw reads it from output column iw0 + l + pw - kw*dw.
    const M in_row = iota < V(static_cast<T>(g.W - iw0));
    for (std::int64_t kw = 0; kw < g.KW; ++kw) {
      const V ow = iota + V(static_cast<T>(iw0 + g.pw - kw * g.dw));
      tap_mask[static_cast<std::size_t>(kw)] = in_row & (ow >= V(T(0))) & (ow < V(static_cast<T>(g.OW)));
    }
    for (std::int64_t c = 0; c < g.C; ++c)
      for (std::int64_t ih = 0; ih < g.H; ++ih) {
        V acc(T(0));
        for (std::int64_t kh = 0; kh < g.KH; ++kh) {
          const std::int64_t t = ih + g.ph - kh * g.dh;  // = oh * sh
          if (t < 0 || t % g.sh != 0 || t / g.sh >= g.OH) continue;
          const T* row = dcols + ((c * g.KH + kh) * g.KW) * ohw + (t / g.sh) * g.OW + iw0 + g.pw;
          for (std::int64_t kw = 0; kw < g.KW; ++kw, row += ohw)
            acc += xsimd::select(tap_mask[static_cast<std::size_t>(kw)], V::load_unaligned(row - kw * g.dw), V(T(0)));
        }
        T* d = dx + c * plane + ih * g.W + iw0;
        if (d + L <= dx_end) {  // lanes past the row belong to other rows: written back as they were
          const V old = V::load_unaligned(d);
          const V sum = accumulate ? acc + old : acc;
          (iw0 + L > g.W ? xsimd::select(in_row, sum, old) : sum).store_unaligned(d);
        } else {  // the image's last vector: no lanes past its end
          alignas(64) T buf[L];
          acc.store_aligned(buf);
          for (std::int64_t l = 0; l < std::min(L, g.W - iw0); ++l) d[l] = accumulate ? d[l] + buf[l] : buf[l];
        }
      }
  }
}

/// Per-thread scratch that keeps its capacity between calls (64-byte aligned).
template <class T>
T* image_scratch(int slot, std::int64_t n) {
  thread_local std::vector<T, xsimd::aligned_allocator<T, 64>> buf[2];
  auto& b = buf[slot];
  if (static_cast<std::int64_t>(b.size()) < n) b.resize(static_cast<std::size_t>(n));
  return b.data();
}

/// Images split over threads: each thread as many images as the work pays for, no more threads than images.
inline int image_threads(const Conv2dGeometry& g) {
  const int t = cpu::threads_for(g.N * g.OC * g.OH * g.OW * g.Kg(), 1 << 18);
  return static_cast<int>(std::min<std::int64_t>(t, g.N));
}

/// How the CPU convolves. A 1x1 kernel with stride 1 and no padding reads each image as its own column matrix
/// [C, H*W] (pointwise: no im2col, no kept columns); a depthwise one (one input channel per group) is a sum of KH*KW
/// shifted, scaled rows per channel, which a GEMM with one row would waste its tile on (direct loops instead).
/// Both keep the input itself for the backward in place of the columns.
enum class ConvPath { im2col, pointwise, depthwise };
inline ConvPath cpu_conv_path(const Conv2dGeometry& g) {
  if (g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0) return ConvPath::pointwise;
  if (g.groups > 1 && g.Cg() == 1) return ConvPath::depthwise;
  return ConvPath::im2col;
}

/// Row stride of the matrix the GEMM multiplies W by: the column matrix (column_stride), or on the pointwise path the
/// image itself (OH*OW).
template <class T>
std::int64_t operand_stride(const Conv2dGeometry& g, ConvPath path) {
  return path == ConvPath::im2col ? column_stride<T>(g) : g.OH * g.OW;
}

// With unit column stride the direct path works on a zero-padded copy of each input plane: every tap then reads
// whole vectors of a row at a fixed shift, with no bounds, and an output vector sums its KH*KW taps in a register.

/// Whether the direct (depthwise) path runs on padded planes: with unit column stride.
inline bool uses_padded_plane(const Conv2dGeometry& g) { return cpu_conv_path(g) == ConvPath::depthwise && g.sw == 1; }

/// Row length of a padded plane: the padding on both sides plus a vector of slack, so a vector starting at any
/// output column and shifted by any tap stays inside the row.
template <class T>
std::int64_t padded_width(const Conv2dGeometry& g) {
  return g.W + 2 * g.pw + static_cast<std::int64_t>(cpu::vec<T>::size);
}

/// dst = the plane src with ph zero rows above and below, pw zero columns left and the rest of each row zero.
template <class T>
void pad_plane(const T* src, T* dst, const Conv2dGeometry& g) {
  const std::int64_t PW = padded_width<T>(g), PH = g.H + 2 * g.ph;
  std::fill_n(dst, g.ph * PW, T(0));
  for (std::int64_t h = 0; h < g.H; ++h) {
    T* row = dst + (g.ph + h) * PW;
    std::fill_n(row, g.pw, T(0));
    std::copy_n(src + h * g.W, g.W, row + g.pw);
    std::fill_n(row + g.pw + g.W, PW - g.pw - g.W, T(0));
  }
  std::fill_n(dst + (g.ph + g.H) * PW, (PH - g.ph - g.H) * PW, T(0));
}

/// The direct forward with unit column stride for one image: out[oc, oh, ow] = bias + sum of the taps, a vector of
/// output columns at a time. padded: scratch for one padded plane.
template <class T>
void direct_forward_image_padded(const T* x, const T* w, const T* bias, T* out, T* padded, const Conv2dGeometry& g) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t PW = padded_width<T>(g), mult = g.OCg(), taps = g.KH * g.KW;
  alignas(64) T tail[L];
  for (std::int64_t c = 0; c < g.C; ++c) {
    pad_plane(x + c * g.H * g.W, padded, g);
    for (std::int64_t oc = c * mult; oc < (c + 1) * mult; ++oc) {
      const T* wk = w + oc * taps;
      T* o = out + oc * g.OH * g.OW;
      for (std::int64_t oh = 0; oh < g.OH; ++oh)
        for (std::int64_t c0 = 0; c0 < g.OW; c0 += L) {
          V acc(bias ? bias[oc] : T(0));
          for (std::int64_t kh = 0; kh < g.KH; ++kh) {
            const T* prow = padded + (oh * g.sh + kh * g.dh) * PW + c0;
            for (std::int64_t kw = 0; kw < g.KW; ++kw)
              acc = xsimd::fma(V(wk[kh * g.KW + kw]), V::load_unaligned(prow + kw * g.dw), acc);
          }
          T* dst = o + oh * g.OW + c0;
          if (c0 + L <= g.OW) {
            acc.store_unaligned(dst);
          } else {  // the row's last columns: the lanes past its end are not written
            acc.store_aligned(tail);
            std::copy_n(tail, g.OW - c0, dst);
          }
        }
    }
  }
}

/// Rows of gout padded to whole vectors (zeros after each row's end): scratch size for direct_weight_grad_image_padded.
template <class T>
std::int64_t padded_gout_size(const Conv2dGeometry& g) {
  constexpr std::int64_t L = cpu::vec<T>::size;
  return g.OH * ((g.OW + L - 1) / L * L);
}

/// The weight gradient of the direct path with unit column stride for one image: dw[oc, kh, kw] += the sum over
/// output positions of gout[oc] times the tap's shifted input, a vector of columns at a time. Each gout plane is first
/// copied into rows of whole vectors (gpad), and lanes past a row's end are masked out of the sums, not multiplied by
/// zero: an infinite input there must not turn a sum into NaN.
template <class T>
void direct_weight_grad_image_padded(const T* x, const T* gout, T* dw, T* padded, T* gpad, const Conv2dGeometry& g) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t PW = padded_width<T>(g), mult = g.OCg(), taps = g.KH * g.KW, ohw = g.OH * g.OW;
  const std::int64_t full = g.OW / L * L, GW = (g.OW + L - 1) / L * L;  // full vectors per row; gpad's row length
  alignas(64) T lane[L];
  for (std::int64_t j = 0; j < L; ++j) lane[j] = static_cast<T>(j);
  const auto live = V::load_aligned(lane) < V(static_cast<T>(g.OW - full));  // lanes of the last, partial vector
  for (std::int64_t c = 0; c < g.C; ++c) {
    pad_plane(x + c * g.H * g.W, padded, g);
    for (std::int64_t oc = c * mult; oc < (c + 1) * mult; ++oc) {
      for (std::int64_t oh = 0; oh < g.OH; ++oh) {
        std::copy_n(gout + oc * ohw + oh * g.OW, g.OW, gpad + oh * GW);
        std::fill_n(gpad + oh * GW + g.OW, GW - g.OW, T(0));
      }
      for (std::int64_t kh = 0; kh < g.KH; ++kh)
        for (std::int64_t kw = 0; kw < g.KW; ++kw) {
          V acc(T(0));
          for (std::int64_t oh = 0; oh < g.OH; ++oh) {
            const T* prow = padded + (oh * g.sh + kh * g.dh) * PW + kw * g.dw;
            const T* grow = gpad + oh * GW;
            for (std::int64_t c0 = 0; c0 < full; c0 += L)
              acc = xsimd::fma(V::load_aligned(grow + c0), V::load_unaligned(prow + c0), acc);
            if (full < g.OW)
              acc += xsimd::select(live, V::load_aligned(grow + full) * V::load_unaligned(prow + full), V(T(0)));
          }
          dw[oc * taps + kh * g.KW + kw] += xsimd::hadd(acc);
        }
    }
  }
}

/// The zero-padded gout plane of depthwise_input_grad_image_padded: rows, and row length with a vector of slack, so
/// that every tap of every input position reads inside it.
inline std::int64_t grad_plane_rows(const Conv2dGeometry& g) {
  return std::max(g.H + g.ph + (g.KH - 1) * g.dh, g.H + 2 * g.ph);
}
template <class T>
std::int64_t grad_plane_width(const Conv2dGeometry& g) {
  return std::max(g.W + g.pw + (g.KW - 1) * g.dw, g.W + 2 * g.pw) + static_cast<std::int64_t>(cpu::vec<T>::size);
}

/// The input gradient of the depthwise path with unit strides for one image: dx[c, ih, iw] (+)= the sum over c's
/// output channels and taps of w[oc, kh, kw] * gout[oc, ih + ph - kh dh, iw + pw - kw dw], a vector of input columns
/// at a time. Each gout plane is first copied into a zero-padded plane (gpad), so every tap reads whole vectors at a
/// fixed shift with no bounds and an input vector sums its taps in a register, as the forward's outputs do (adding
/// each tap's shifted row into dx took 3.4 times the forward's time, perf of training_vs_libtorch).
template <class T>
void depthwise_input_grad_image_padded(const T* gout, const T* w, T* dx, bool dx_acc, T* gpad,
                                       const Conv2dGeometry& g) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t top = (g.KH - 1) * g.dh, left = (g.KW - 1) * g.dw, GW = grad_plane_width<T>(g);
  const std::int64_t mult = g.OCg(), taps = g.KH * g.KW, ohw = g.OH * g.OW;
  alignas(64) T tail[L];
  std::fill_n(gpad, grad_plane_rows(g) * GW, T(0));  // every plane below overwrites the same interior
  for (std::int64_t oc = 0; oc < g.OC; ++oc) {
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      std::copy_n(gout + oc * ohw + oh * g.OW, g.OW, gpad + (top + oh) * GW + left);
    const T* wk = w + oc * taps;
    const bool add = dx_acc || oc % mult != 0;  // a channel's first output channel writes, the others add
    T* d = dx + oc / mult * g.H * g.W;
    for (std::int64_t ih = 0; ih < g.H; ++ih)
      for (std::int64_t c0 = 0; c0 < g.W; c0 += L) {
        V acc(T(0));
        for (std::int64_t kh = 0; kh < g.KH; ++kh) {
          const T* grow = gpad + (ih + g.ph + top - kh * g.dh) * GW + c0 + g.pw + left;
          for (std::int64_t kw = 0; kw < g.KW; ++kw)
            acc = xsimd::fma(V(wk[kh * g.KW + kw]), V::load_unaligned(grow - kw * g.dw), acc);
        }
        T* dst = d + ih * g.W + c0;
        if (c0 + L <= g.W) {
          (add ? acc + V::load_unaligned(dst) : acc).store_unaligned(dst);
        } else {  // the row's last columns: the lanes past its end are not written
          acc.store_aligned(tail);
          for (std::int64_t k = 0; k < g.W - c0; ++k) dst[k] = add ? dst[k] + tail[k] : tail[k];
        }
      }
  }
}

/// out[oc] = bias + sum over (kh, kw) of w[oc, kh, kw] * the input plane of channel oc / (OC / C) shifted by the tap,
/// for one image (depthwise: one input channel per group, OC / C output channels from each).
template <class T>
void depthwise_forward_image(const T* x, const T* w, const T* bias, T* out, const Conv2dGeometry& g) {
  const std::int64_t ohw = g.OH * g.OW, mult = g.OCg();
  for (std::int64_t oc = 0; oc < g.OC; ++oc) {
    const T* plane = x + (oc / mult) * g.H * g.W;
    T* o = out + oc * ohw;
    std::fill_n(o, ohw, bias ? bias[oc] : T(0));
    for (std::int64_t kh = 0; kh < g.KH; ++kh)
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        const T wv = w[(oc * g.KH + kh) * g.KW + kw];
        const auto [lo, hi] = valid_columns(g, kw);
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {
          const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* src = plane + ih * g.W + kw * g.dw - g.pw;  // src[ow * sw] is the input of output column ow
          T* row = o + oh * g.OW;
          if (g.sw == 1)
            for (std::int64_t ow = lo; ow < hi; ++ow) row[ow] += wv * src[ow];
          else
            for (std::int64_t ow = lo; ow < hi; ++ow) row[ow] += wv * src[ow * g.sw];
        }
      }
  }
}

/// y[i] += a * x[i] for i in [lo, hi), a vector at a time (g++ -O2 left this loop scalar: x and y may overlap).
template <class T>
void add_scaled(T* y, T a, const T* x, std::int64_t lo, std::int64_t hi) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  std::int64_t i = lo;
  for (; i + L <= hi; i += L)
    xsimd::fma(V(a), V::load_unaligned(x + i), V::load_unaligned(y + i)).store_unaligned(y + i);
  for (; i < hi; ++i) y[i] += a * x[i];
}

/// The depthwise backward for one image: dw[oc, tap] += gout[oc] . (shifted input plane) and dx (+)= the adjoint.
/// The weight gradient's products are summed per output column into rowacc (OW values) and reduced once per tap, so
/// the loops over columns are element-wise and vectorise (a running scalar sum would not, without reassociation).
template <class T>
void depthwise_backward_image(const T* x, const T* w, const T* gout, T* dx, bool dx_acc, T* dw, T* rowacc,
                              const Conv2dGeometry& g) {
  const std::int64_t ohw = g.OH * g.OW, mult = g.OCg();
  if (dx && !dx_acc) std::fill_n(dx, g.C * g.H * g.W, T(0));
  for (std::int64_t oc = 0; oc < g.OC; ++oc) {
    const std::int64_t plane_at = (oc / mult) * g.H * g.W;
    const T* go = gout + oc * ohw;
    for (std::int64_t kh = 0; kh < g.KH; ++kh)
      for (std::int64_t kw = 0; kw < g.KW; ++kw) {
        const std::int64_t tap = (oc * g.KH + kh) * g.KW + kw;
        const T wv = w[tap];
        const auto [lo, hi] = valid_columns(g, kw);
        if (dw) std::fill_n(rowacc, g.OW, T(0));
        for (std::int64_t oh = 0; oh < g.OH; ++oh) {
          const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const std::int64_t at = plane_at + ih * g.W + kw * g.dw - g.pw;  // + ow * sw: the input of column ow
          const T* grow = go + oh * g.OW;
          if (dw) {
            const T* src = x + at;
            if (g.sw == 1)
              for (std::int64_t ow = lo; ow < hi; ++ow) rowacc[ow] += grow[ow] * src[ow];
            else
              for (std::int64_t ow = lo; ow < hi; ++ow) rowacc[ow] += grow[ow] * src[ow * g.sw];
          }
          if (dx) {
            T* d = dx + at;
            if (g.sw == 1)
              add_scaled(d, wv, grow, lo, hi);
            else
              for (std::int64_t ow = lo; ow < hi; ++ow) d[ow * g.sw] += wv * grow[ow];
          }
        }
        if (dw) {
          T acc(0);
          for (std::int64_t ow = lo; ow < hi; ++ow) acc += rowacc[ow];
          dw[tap] += acc;
        }
      }
  }
}

/// Whether the backward gets the batch's columns from the forward (on the im2col path) or makes each image's again
/// from the input. Kept, they are written to memory once and read back once; beyond a few MiB that round trip goes to
/// DRAM and costs more than a second im2col into scratch that stays in cache (ResNet-style 3x3 64 -> 64 on 8x32x32,
/// 19 MiB of columns), below it the columns are still in cache and making them again is the loss (LeNet-5, 4 MiB per
/// layer: its step 1.69 -> 1.77 ms in training_vs_libtorch). Also bounds the memory a layer holds for its backward.
template <class T>
bool keeps_columns(const Conv2dGeometry& g) {
  constexpr std::int64_t kMaxKeptBytes = std::int64_t{8} << 20;
  return cpu_conv_path(g) == ConvPath::im2col && g.N * image_columns<T>(g) * std::int64_t{sizeof(T)} <= kMaxKeptBytes;
}

/// out[i, j] += bias[i] over a block of one image's output as the GEMM finishes it (its epilogue), while the block is
/// in cache: no pass that fills the output with the bias first for the GEMM to read back.
template <class T>
struct BiasRows {
  const T* bias;
  T* out;
  std::int64_t ld;
  static void apply(const void* self, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
    using V = cpu::vec<T>;
    constexpr std::int64_t L = V::size;
    const auto& b = *static_cast<const BiasRows*>(self);
    for (std::int64_t i = i0; i < i1; ++i) {
      T* row = b.out + i * b.ld;
      const V v(b.bias[i]);
      std::int64_t j = j0;
      for (; j + L <= j1; j += L) (V::load_unaligned(row + j) + v).store_unaligned(row + j);
      for (; j < j1; ++j) row[j] += b.bias[i];
    }
  }
};

/// out[n] = W . im2col(x[n]) (+ bias) per group, image by image (or the direct forms of cpu_conv_path). On the im2col
/// path with saved_cols (N images of image_columns, see keeps_columns) the columns are kept there for the backward,
/// else in per-thread scratch. One kernel.
template <class T>
void conv2d_forward_cpu(const T* x, const T* w, const T* bias, T* out, T* saved_cols, const Conv2dGeometry& g) {
  count_kernel(kCPU);
  const std::int64_t ohw = g.OH * g.OW, Kg = g.Kg(), OCg = g.OCg(), image_cols = image_columns<T>(g);
  const ConvPath path = cpu_conv_path(g);
  const std::int64_t ld = operand_stride<T>(g, path);
  cpu::parallel(image_threads(g), [&](int tid, int nth) {
    T* cols_scratch = path == ConvPath::im2col && !saved_cols ? image_scratch<T>(0, image_cols) : nullptr;
    T* padded = uses_padded_plane(g) ? image_scratch<T>(0, (g.H + 2 * g.ph) * padded_width<T>(g)) : nullptr;
    for (std::int64_t n = g.N * tid / nth; n < g.N * (tid + 1) / nth; ++n) {
      const T* xn = x + n * g.C * g.H * g.W;
      T* o = out + n * g.OC * ohw;
      if (path == ConvPath::depthwise) {
        if (padded)
          direct_forward_image_padded(xn, w, bias, o, padded, g);
        else
          depthwise_forward_image(xn, w, bias, o, g);
        continue;
      }
      const T* cols = xn;  // pointwise: the image is its own column matrix
      if (path == ConvPath::im2col) {
        T* c = saved_cols ? saved_cols + n * image_cols : cols_scratch;
        im2col_image(xn, x + g.N * g.C * g.H * g.W, c, g);
        cols = c;
      }
      for (std::int64_t gr = 0; gr < g.groups; ++gr) {
        const BiasRows<T> rows{bias ? bias + gr * OCg : nullptr, o + gr * OCg * ohw, ohw};
        cpu::gemm_on<T>(1, OCg, ohw, Kg, w + gr * OCg * Kg, Kg, 1, cols + gr * Kg * ld, ld, 1, o + gr * OCg * ohw,
                        ohw, false, bias ? cpu::TileEpilogue{&BiasRows<T>::apply, &rows} : cpu::TileEpilogue{});
      }
    }
  });
}

/// The three gradients image by image from what the forward kept (keeps_columns: the columns, or the input, whose
/// columns are made again image by image in per-thread scratch): dW += gout[n] . cols[n]^T and db += row sums of
/// gout[n] into per-thread partials (summed in thread order: the result depends on the thread count only),
/// dx[n] = col2im(W^T . gout[n]). Null destinations are skipped. One kernel.
template <class T>
void conv2d_backward_cpu(const T* saved, const T* w, const T* gout, T* dx, bool dx_acc, T* dw, bool dw_acc, T* db,
                         bool db_acc, const Conv2dGeometry& g) {
  count_kernel(kCPU);
  const std::int64_t ohw = g.OH * g.OW, Kg = g.Kg(), OCg = g.OCg(), wsize = g.OC * Kg;
  const std::int64_t image_cols = image_columns<T>(g), dcols_size = g.C * g.KH * g.KW * ohw;
  const int nt = image_threads(g);
  // Each thread's partials start on their own cache lines (a bias's few sums shared one with the next thread's).
  const std::int64_t wstride = cpu::thread_stride<T>(wsize), bstride = cpu::thread_stride<T>(g.OC);
  std::vector<T, xsimd::aligned_allocator<T, 128>> pdw(dw ? static_cast<std::size_t>(nt * wstride) : 0),
      pdb(db ? static_cast<std::size_t>(nt * bstride) : 0);
  const ConvPath path = cpu_conv_path(g);
  const std::int64_t ld = operand_stride<T>(g, path);
  cpu::parallel(nt, [&](int tid, int nth) {
    // depthwise: a row of sums, or gout in whole vectors (direct_weight_grad_image_padded)
    // im2col with unit column stride: slack around the column gradient for col2im_image_gathered's vectors
    const bool gathered = path == ConvPath::im2col && g.sw == 1;
    const bool whole_rows = path == ConvPath::im2col && same_width(g);  // col2im_image_same_width
    const std::int64_t front = gathered ? col2im_slack_front<T>(g) : 0, back = gathered ? col2im_slack_back<T>(g) : 0;
    // depthwise with unit strides: also the padded gout plane of depthwise_input_grad_image_padded
    const bool padded_dx = path == ConvPath::depthwise && g.sh == 1 && g.sw == 1;
    const std::int64_t direct_scratch = std::max({g.OW, padded_gout_size<T>(g),
                                                  padded_dx ? grad_plane_rows(g) * grad_plane_width<T>(g) : 0});
    T* dcols = image_scratch<T>(1, path == ConvPath::im2col ? front + dcols_size + back : direct_scratch) + front;
    T* padded = uses_padded_plane(g) ? image_scratch<T>(0, (g.H + 2 * g.ph) * padded_width<T>(g)) : nullptr;
    const bool kept = keeps_columns<T>(g);
    T* cols_scratch = path == ConvPath::im2col && !kept && dw ? image_scratch<T>(0, image_cols) : nullptr;
    for (std::int64_t n = g.N * tid / nth; n < g.N * (tid + 1) / nth; ++n) {
      const T* gn = gout + n * g.OC * ohw;
      // the image's columns, or the image itself (made into columns here on the im2col path)
      const T* cols = kept ? saved + n * image_cols : saved + n * g.C * g.H * g.W;
      if (cols_scratch) {
        im2col_image(cols, saved + g.N * g.C * g.H * g.W, cols_scratch, g);
        cols = cols_scratch;
      }
      if (path == ConvPath::depthwise) {
        // The weight gradient on the padded plane where there is one; the input gradient (and otherwise the weight
        // gradient) by the row loops.
        T* pdw_t = dw ? pdw.data() + tid * wstride : nullptr;
        if (pdw_t && padded) direct_weight_grad_image_padded(cols, gn, pdw_t, padded, dcols, g);
        T* row_dw = padded ? nullptr : pdw_t;
        T* dxn = dx ? dx + n * g.C * g.H * g.W : nullptr;
        if (dxn && padded_dx) {
          depthwise_input_grad_image_padded(gn, w, dxn, dx_acc, dcols, g);
          dxn = nullptr;
        }
        if (dxn || row_dw) depthwise_backward_image(cols, w, gn, dxn, dx_acc, row_dw, dcols, g);
      }
      if (dw && path != ConvPath::depthwise) {
        for (std::int64_t gr = 0; gr < g.groups; ++gr)  // A . B^T, both contiguous along the pixels
          cpu::gemm_on<T>(1, OCg, Kg, ohw, gn + gr * OCg * ohw, ohw, 1, cols + gr * Kg * ld, 1, ld,
                          pdw.data() + tid * wstride + gr * OCg * Kg, Kg, true);
      }
      if (db)  // row sums in SIMD lanes (a scalar running sum waits on each add: 4 cycles per element)
        for (std::int64_t oc = 0; oc < g.OC; ++oc) {
          using V = cpu::vec<T>;
          const T* row = gn + oc * ohw;
          V acc(T(0));
          std::int64_t p = 0;
          for (; p + static_cast<std::int64_t>(V::size) <= ohw; p += V::size) acc += V::load_unaligned(row + p);
          T s = xsimd::hadd(acc);
          for (; p < ohw; ++p) s += row[p];
          pdb[static_cast<std::size_t>(tid * bstride + oc)] += s;
        }
      if (dx && path != ConvPath::depthwise) {
        // W_g^T . gout_g: the column gradient, which is the input gradient itself on the pointwise path
        T* dst = path == ConvPath::pointwise ? dx + n * g.C * g.H * g.W : dcols;
        for (std::int64_t gr = 0; gr < g.groups; ++gr)
          cpu::gemm_on<T>(1, Kg, ohw, OCg, w + gr * OCg * Kg, 1, Kg, gn + gr * OCg * ohw, ohw, 1, dst + gr * Kg * ohw,
                          ohw, path == ConvPath::pointwise && dx_acc);
        if (whole_rows) col2im_image_same_width(dcols, dx + n * g.C * g.H * g.W, g, dx_acc);
        else if (gathered) col2im_image_gathered(dcols, dx + n * g.C * g.H * g.W, g, dx_acc);
        else if (path == ConvPath::im2col) col2im_image(dcols, dx + n * g.C * g.H * g.W, g, dx_acc);
      }
    }
  });
  auto combine = [&](T* dst, const T* part, std::int64_t size, std::int64_t stride, bool acc) {
    for (std::int64_t k = 0; k < size; ++k) {
      T s = acc ? dst[k] : T(0);
      for (int t = 0; t < nt; ++t) s += part[t * stride + k];
      dst[k] = s;
    }
  };
  if (dw) combine(dw, pdw.data(), wsize, wstride, dw_acc);
  if (db) combine(db, pdb.data(), g.OC, bstride, db_acc);
}

// ---- a GPU: the whole batch at once, one element per index -------------------------------------------------------

/// cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (0 outside).
template <class T>
void im2col(Device dev, const T* x, T* cols, const Conv2dGeometry& g) {
  launch_for_each(dev, g.C * g.KH * g.KW * g.P(), Im2colKernel<T>{x, cols, g}, "conv2d");
}

/// dx (+)= the adjoint of im2col, as a gather.
template <class T>
void col2im(Device dev, const T* dcols, T* dx, const Conv2dGeometry& g, bool accumulate) {
  launch_for_each(dev, g.N * g.C * g.H * g.W, Col2imKernel<T>{dcols, dx, g, accumulate}, "conv2d backward");
}

/// out[n, oc, p] = y[oc, n*OHW + p] + bias[oc]: GEMM layout to NCHW, bias fused in.
template <class T>
void gemm_to_nchw(Device dev, const T* y, const T* bias, T* out, const Conv2dGeometry& g) {
  launch_for_each(dev, g.N * g.OC * g.OH * g.OW, NchwGemmKernel<T>{y, bias, out, g, false}, "conv2d");
}

/// gt[oc, n*OHW + p] = g[n, oc, p]: the output gradient in GEMM layout.
template <class T>
void nchw_to_gemm(Device dev, const T* gout, T* gt, const Conv2dGeometry& g) {
  launch_for_each(dev, g.N * g.OC * g.OH * g.OW, NchwGemmKernel<T>{gout, nullptr, gt, g, true}, "conv2d backward");
}

template <class T>
class Conv2dBackward final : public Node {
  // Uninitialised scratch from the caching allocator, returned to it when the handle goes.
  std::shared_ptr<TensorImpl> scratch(std::int64_t n) const { return TensorImpl::empty({n}, dtype_of<T>(), dev()); }
  Device dev() const { return w_->device(); }

 public:
  /// saved: on the CPU the batch's columns image by image or the input (detail::keeps_columns), on a GPU the batch's
  /// columns as one GEMM operand.
  Conv2dBackward(Conv2dGeometry g, std::shared_ptr<TensorImpl> saved, std::shared_ptr<TensorImpl> w)
      : g_(g), saved_(std::move(saved)), w_(std::move(w)) {}
  const char* name() const noexcept override { return "ConvolutionBackward"; }
  void apply(const TensorImpl& gout, std::vector<GradTarget>& targets) override {
    const auto& g = g_;
    if (dev().is_cpu()) {
      auto ptr = [](GradTarget& t) { return t.buffer ? static_cast<T*>(t.buffer->data()) : nullptr; };
      GradTarget none;
      GradTarget& tb = targets.size() > 2 ? targets[2] : none;
      return conv2d_backward_cpu<T>(static_cast<const T*>(saved_->data()), static_cast<const T*>(w_->data()),
                                    static_cast<const T*>(gout.data()), ptr(targets[0]), targets[0].accumulate,
                                    ptr(targets[1]), targets[1].accumulate, ptr(tb), tb.accumulate, g);
    }
    const std::int64_t P = g.P(), Kg = g.Kg(), OCg = g.OCg();
    auto gt_buf = scratch(g.OC * P);
    T* gt = static_cast<T*>(gt_buf->data());
    nchw_to_gemm<T>(dev(), static_cast<const T*>(gout.data()), gt, g);
    const T* cols = static_cast<const T*>(saved_->data());
    const T* w = static_cast<const T*>(w_->data());
    if (auto& tw = targets[1]; tw.buffer) {  // dW_g = gt_g . cols_g^T
      T* dw = static_cast<T*>(tw.buffer->data());
      for (std::int64_t gr = 0; gr < g.groups; ++gr)
        launch_gemm<T>(dev(), OCg, Kg, P, gt + gr * OCg * P, P, 1, cols + gr * Kg * P, 1, P, dw + gr * OCg * Kg, Kg,
                       tw.accumulate);
    }
    if (targets.size() > 2 && targets[2].buffer) {  // db = row sums of gt
      T* db = static_cast<T*>(targets[2].buffer->data());
      launch_for_each(dev(), g.OC, BiasGradKernel<T>{gt, db, P, targets[2].accumulate}, "conv2d backward", P);
    }
    if (auto& tx = targets[0]; tx.buffer) {  // dcols_g = W_g^T . gt_g, then col2im
      auto dcols_buf = scratch(g.C * g.KH * g.KW * P);
      T* dcols = static_cast<T*>(dcols_buf->data());
      for (std::int64_t gr = 0; gr < g.groups; ++gr)
        launch_gemm<T>(dev(), Kg, P, OCg, w + gr * OCg * Kg, 1, Kg, gt + gr * OCg * P, P, 1, dcols + gr * Kg * P, P,
                       false);
      col2im<T>(dev(), dcols, static_cast<T*>(tx.buffer->data()), g, tx.accumulate);
    }
  }
  void release_saved() override {
    saved_.reset();
    w_.reset();
  }

 private:
  Conv2dGeometry g_;
  std::shared_ptr<TensorImpl> saved_, w_;  // saved: see the constructor
};

}  // namespace detail

/// 2-D convolution over NCHW input (torch::nn::functional::conv2d). weight: [out, in/groups, kh, kw]; bias: [out]
/// or undefined. A 3-D input [C, H, W] is treated as a batch of one.
template <class T>
TensorOf<T> conv2d(const TensorOf<T>& input, const TensorOf<T>& weight, const TensorOf<T>& bias = {},
                   std::array<std::int64_t, 2> stride = {1, 1}, std::array<std::int64_t, 2> padding = {0, 0},
                   std::array<std::int64_t, 2> dilation = {1, 1}, std::int64_t groups = 1) {
  sinter::detail::require_defined(input.impl().get(), "conv2d");
  sinter::detail::require_defined(weight.impl().get(), "conv2d");
  SINTER_CHECK(input.device() == weight.device() && (!bias.defined() || bias.device() == input.device()),
               "conv2d: expected the input, weight and bias on one device, but the input is on ", input.device(),
               " and the weight on ", weight.device(), "; move the module with .to(device)");
  if (input.dim() == 3) return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  SINTER_CHECK(input.dim() == 4, "conv2d: expected a 3-D or 4-D input (NCHW), but got shape ", input.shape());
  SINTER_CHECK(weight.dim() == 4, "conv2d: expected a 4-D weight [out_channels, in_channels/groups, kH, kW], got ",
               weight.shape());
  SINTER_CHECK(groups >= 1 && input.size(1) % groups == 0 && weight.size(0) % groups == 0,
               "conv2d: groups=", groups, " must divide both in_channels (", input.size(1), ") and out_channels (",
               weight.size(0), ")");
  SINTER_CHECK(weight.size(1) * groups == input.size(1), "conv2d: expected input ", input.shape(), " to have ",
               weight.size(1) * groups, " channels, but got ", input.size(1),
               " channels instead (weight of shape ", weight.shape(), ", groups=", groups, ")");
  for (int i = 0; i < 2; ++i) {
    SINTER_CHECK(stride[i] >= 1, "conv2d: stride must be positive, got ", stride[i]);
    SINTER_CHECK(padding[i] >= 0, "conv2d: padding must be non-negative, got ", padding[i]);
    SINTER_CHECK(dilation[i] >= 1, "conv2d: dilation must be positive, got ", dilation[i]);
  }
  Conv2dGeometry g{};
  g.N = input.size(0), g.C = input.size(1), g.H = input.size(2), g.W = input.size(3);
  g.OC = weight.size(0), g.KH = weight.size(2), g.KW = weight.size(3);
  g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1], g.dh = dilation[0], g.dw = dilation[1];
  g.groups = groups;
  g.OH = (g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw + 1;
  SINTER_CHECK(g.OH > 0 && g.OW > 0, "conv2d: the kernel (", g.KH, "x", g.KW, ", dilation ", g.dh, "x", g.dw,
               ") is larger than the padded input (", g.H + 2 * g.ph, "x", g.W + 2 * g.pw, ")");
  if (bias.defined())
    SINTER_CHECK(bias.dim() == 1 && bias.size(0) == g.OC, "conv2d: bias must have shape [", g.OC, "], got ",
                 bias.shape());

  const TensorOf<T> x = input.contiguous(), w = weight.contiguous();
  const TensorOf<T> b = bias.defined() ? bias.contiguous() : TensorOf<T>();
  const std::int64_t P = g.P(), Kg = g.Kg(), OCg = g.OCg();
  const Device dev = x.device();
  const bool grad = is_grad_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  auto record = [&](TensorImpl& out, std::shared_ptr<TensorImpl> saved) {
    sinter::detail::check_forward_anomaly(out, {x.impl().get(), w.impl().get(), b.defined() ? b.impl().get() : nullptr},
                                          "conv2d");
    if (!grad) return;
    auto node = std::make_shared<detail::Conv2dBackward<T>>(g, std::move(saved), w.impl());
    node->inputs = {x.impl(), w.impl()};
    if (b.defined()) node->inputs.push_back(b.impl());
    out.grad_fn = std::move(node);
  };
  if (dev.is_cpu()) {
    // With a gradient to come, small batches' columns are kept for the backward; otherwise (and on the direct paths)
    // the input is, and the columns live in cache only.
    const bool keep = grad && detail::keeps_columns<T>(g);
    auto cols = keep ? TensorImpl::empty({g.N, detail::image_columns<T>(g)}, dtype_of<T>(), dev) : nullptr;
    auto out = TensorImpl::empty({g.N, g.OC, g.OH, g.OW}, dtype_of<T>(), dev);
    detail::conv2d_forward_cpu<T>(x.data(), w.data(), b.defined() ? b.data() : nullptr, static_cast<T*>(out->data()),
                                  cols ? static_cast<T*>(cols->data()) : nullptr, g);
    record(*out, keep ? cols : grad ? x.impl() : nullptr);
    return TensorOf<T>(std::move(out));
  }
  auto cols = TensorImpl::empty({g.C * g.KH * g.KW, P}, dtype_of<T>(), dev);
  detail::im2col<T>(dev, x.data(), static_cast<T*>(cols->data()), g);
  auto y_buf = TensorImpl::empty({g.OC * P}, dtype_of<T>(), dev);  // uninitialised: the GEMM overwrites it
  T* y = static_cast<T*>(y_buf->data());
  for (std::int64_t gr = 0; gr < groups; ++gr)
    detail::launch_gemm<T>(dev, OCg, P, Kg, w.data() + gr * OCg * Kg, Kg, 1,
                           static_cast<const T*>(cols->data()) + gr * Kg * P, P, 1, y + gr * OCg * P, P, false);
  auto out = TensorImpl::empty({g.N, g.OC, g.OH, g.OW}, dtype_of<T>(), dev);
  detail::gemm_to_nchw<T>(dev, y, b.defined() ? b.data() : nullptr, static_cast<T*>(out->data()), g);
  record(*out, cols);
  return TensorOf<T>(std::move(out));
}

#define SINTER_CONV_INSTANCES(X, T)                                                                                  \
  X(TensorOf<T> conv2d<T>(const TensorOf<T>&, const TensorOf<T>&, const TensorOf<T>&, std::array<std::int64_t, 2>,   \
                          std::array<std::int64_t, 2>, std::array<std::int64_t, 2>, std::int64_t))
SINTER_CONV_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_CONV_INSTANCES(SINTER_EXTERN_TEMPLATE, double)
}  // namespace sinter::nn::functional
