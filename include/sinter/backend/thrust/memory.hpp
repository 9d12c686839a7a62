// SPDX-License-Identifier: Apache-2.0
// Device storage and transfers: the caching device allocator, and the hooks through which core/ allocates, copies,
// converts and fills tensors on the device. Filled at start-up by every translation unit that includes this header.
#pragma once

#include <memory>

#include <sinter/backend/thrust/elementwise.hpp>
#include <sinter/core/storage.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/core/tensor_impl.hpp>

namespace sinter::thrust_backend {

inline std::shared_ptr<Storage> allocate(std::size_t bytes, Device d) {
  static const bool present = device_count() > 0;  // asked once: the driver call is not free
  SINTER_CHECK(present, "a tensor on ", d, " needs an NVIDIA GPU, and the CUDA runtime found none; check "
                                   "nvidia-smi, or keep the tensor on sinter::kCPU");
  require_supported(d, "allocate");
  detail::count_allocation(d, bytes);
  void* p = device_allocator().allocate(bytes, stream_id());
  return std::make_shared<Storage>(p, bytes, d, [](void* q, std::size_t n) { device_allocator().deallocate(q, n); });
}

/// Page-locked host storage (a CPU tensor's), counted as a host allocation.
inline std::shared_ptr<Storage> allocate_pinned(std::size_t bytes) {
  detail::count_allocation(kCPU, bytes);
  void* p = pinned_allocator().allocate(bytes, detail::kHostStream);
  return std::make_shared<Storage>(
      p, bytes, kCPU, [](void* q, std::size_t n) { pinned_allocator().deallocate(q, n); }, /*pinned=*/true);
}

/// A contiguous tensor with t's shape and values on device `to` (t itself when it already is one).
inline std::shared_ptr<TensorImpl> contiguous_on(const std::shared_ptr<TensorImpl>& t, Device to) {
  if (t->device() == to && t->is_contiguous()) return t;
  auto out = TensorImpl::empty(t->shape, t->dtype, to);
  detail::copy_into(*out, *t, false);
  return out;
}

inline void copy(const TensorImpl& dst, const TensorImpl& src, bool add, bool non_blocking) {
  const Device dd = dst.device(), sd = src.device();
  if (dd == sd) {
    require_supported(dd, "copy_");
    detail::count_kernel(dd);
    const IterationSpace space(dst.shape, {dst.strides, broadcast_strides(src.shape, src.strides, dst.shape)});
    visit_dtype(dst.dtype, [&](auto v) {
      using D = decltype(v);
      strided_copy(space, static_cast<D*>(dst.data()), static_cast<const D*>(src.data()), add);
    });
    dst.storage->bump_version();
    return;
  }
  SINTER_CHECK(dd.is_cpu() || sd.is_cpu(), "copy_: copies between two GPUs (", sd, " to ", dd,
               ") are not supported yet; go through the host with .to(sinter::kCPU)");
  const std::size_t bytes = static_cast<std::size_t>(src.numel()) * element_size(src.dtype);
  const bool direct = !add && dst.shape == src.shape && dst.is_contiguous() && src.is_contiguous();
  if (direct) {  // one transfer, counted as one kernel on the device side
    detail::count_kernel(dd.is_cpu() ? sd : dd);
    if (dd.is_cpu()) {
      to_host(dst.data(), src.data(), bytes);
    } else if (non_blocking && src.storage->pinned()) {
      // The block must outlive the copy: freed early, it is not reused before this stream gets past the copy.
      to_device_async(dst.data(), src.data(), bytes);
      pinned_allocator().record_stream(src.storage->data(), stream_id());
    } else {
      to_device(dst.data(), src.data(), bytes);
    }
    dst.storage->bump_version();
    return;
  }
  // Otherwise: a contiguous copy of src on the source side, one transfer, then a strided (broadcasting, adding)
  // copy on the destination side.
  auto s = std::make_shared<TensorImpl>(src);
  s->grad_fn.reset();
  auto staged = contiguous_on(contiguous_on(s, sd), dd);
  detail::copy_into(dst, *staged, add);
}

inline void fill(const TensorImpl& dst, double value) {
  require_supported(dst.device(), "fill_");
  detail::count_kernel(dst.device());
  const IterationSpace space(dst.shape, {dst.strides});
  visit_dtype(dst.dtype, [&](auto v) {
    using D = decltype(v);
    strided_fill(space, static_cast<D*>(dst.data()), static_cast<D>(value));
  });
  dst.storage->bump_version();
}

inline void convert(const TensorImpl& dst, const TensorImpl& src) {
  SINTER_CHECK(dst.device() == src.device(), "to(): converting while moving between devices (", src.device(), " to ",
               dst.device(), ") is not supported; move first, then convert");
  require_supported(dst.device(), "to()");
  detail::count_kernel(dst.device());
  const IterationSpace space(dst.shape, {dst.strides, src.strides});
  visit_dtype(dst.dtype, [&](auto d) {
    visit_dtype(src.dtype, [&](auto s) {
      using D = decltype(d);
      using S = decltype(s);
      strided_copy(space, static_cast<D*>(dst.data()), static_cast<const S*>(src.data()), false);
    });
  });
  dst.storage->bump_version();
}

/// Fills core's hooks when the program starts (every translation unit that includes this header does the same).
inline const bool hooks_installed = [] {
  detail::cuda_allocate_hook() = &allocate;
  detail::cuda_pinned_allocate_hook() = &allocate_pinned;
  detail::cuda_copy_hook() = &copy;
  detail::cuda_fill_hook() = &fill;
  detail::cuda_convert_hook() = &convert;
  detail::cuda_raw_ops() = {&zero, &to_host, &to_device};
  return true;
}();

}  // namespace sinter::thrust_backend
