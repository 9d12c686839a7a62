// SPDX-License-Identifier: Apache-2.0
// TensorImpl: the untyped heart of a tensor (storage, geometry, autograd state) and the tape Node interface.
// Untyped so the autograd engine, views and storage compile once, not once per element type.
#pragma once

#include <cstdint>
#include <memory>
#include <sinter/core/source_location.hpp>
#include <string>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/device.hpp>
#include <sinter/core/dtype.hpp>
#include <sinter/core/error.hpp>
#include <sinter/core/shape.hpp>
#include <sinter/core/storage.hpp>

namespace sinter {

class Node;

/// Geometry over a Storage plus the autograd state of one tensor handle's identity.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  std::int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  bool requires_grad = false;       // meaningful for leaves; non-leaves require grad through grad_fn
  std::shared_ptr<Node> grad_fn;    // null for leaves
  std::shared_ptr<TensorImpl> grad; // accumulated gradient of a leaf

  Device device() const noexcept { return storage ? storage->device() : Device{}; }
  std::int64_t numel() const noexcept { return numel_of(shape); }
  void* data() const noexcept {
    return static_cast<char*>(storage->data()) + offset * static_cast<std::int64_t>(element_size(dtype));
  }
  bool is_contiguous() const noexcept {
    std::int64_t expect = 1;
    for (int i = shape.size() - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
  bool needs_grad() const noexcept { return requires_grad || grad_fn != nullptr; }

  /// A fresh contiguous tensor; its contents are uninitialised.
  /// Uninitialised and contiguous; `pinned`: in page-locked host memory (device must be the CPU).
  static std::shared_ptr<TensorImpl> empty(const Shape& shape, DType dtype, Device device, bool pinned = false);
};

/// Where a node's backward writes the gradient of one input: a contiguous buffer with the input's shape,
/// overwritten (accumulate = false: the buffer is fresh) or added to.
struct GradTarget {
  std::shared_ptr<TensorImpl> buffer;  // null: this input needs no gradient
  bool accumulate = false;
};

/// A tape node: one per materialised statement. It keeps what its backward needs (the inputs by handle,
/// never raw references) and writes every input gradient in as few kernels as the statement allows.
class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const noexcept = 0;
  /// Writes the input gradients for `grad_out` (contiguous, the output's shape) into `targets` (one per input).
  virtual void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) = 0;
  /// Drops saved tensors after a backward without retain_graph; a later apply() is an error.
  virtual void release_saved() {}

  std::vector<std::shared_ptr<TensorImpl>> inputs;  // autograd edges; null for an optional input not given
  bool released = false;
  SourceLocation location;  // the statement that recorded this node, when known (anomaly messages name it)
};

namespace detail {

/// The end of every error for device work that no file compiled with nvcc provides.
inline constexpr const char* kNeedsCudaBackend =
    " needs sinter's CUDA backend: include <sinter/cuda.hpp> in a file compiled with nvcc and link sinter::cuda";

using DeviceAllocateFn = std::shared_ptr<Storage> (*)(std::size_t bytes, Device device);
/// Filled by sinter/cuda.hpp in translation units compiled with nvcc; null elsewhere.
inline DeviceAllocateFn& cuda_allocate_hook() noexcept {
  static DeviceAllocateFn fn = nullptr;
  return fn;
}

/// Raw device memory operations for status words and scalars that kernels leave behind (not tensor passes, so not
/// counted as kernels). Filled with the allocate hook.
struct DeviceRawOps {
  void (*zero)(void* device_ptr, std::size_t bytes) = nullptr;
  void (*read)(void* host_dst, const void* device_src, std::size_t bytes) = nullptr;
  void (*write)(void* device_dst, const void* host_src, std::size_t bytes) = nullptr;
};
inline DeviceRawOps& cuda_raw_ops() noexcept {
  static DeviceRawOps ops;
  return ops;
}

using PinnedAllocateFn = std::shared_ptr<Storage> (*)(std::size_t bytes);
/// Filled with the allocate hook: page-locked host memory comes from the CUDA runtime.
inline PinnedAllocateFn& cuda_pinned_allocate_hook() noexcept {
  static PinnedAllocateFn fn = nullptr;
  return fn;
}

std::shared_ptr<Storage> allocate_storage(std::size_t bytes, Device device, bool pinned = false);

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED std::shared_ptr<Storage> allocate_storage(std::size_t bytes, Device device, bool pinned) {
  if (pinned) {
    auto fn = cuda_pinned_allocate_hook();
    SINTER_CHECK(fn != nullptr, "pin_memory(): page-locked host memory", kNeedsCudaBackend,
                 " (or leave the tensor in ordinary memory)");
    return fn(bytes);
  }
  if (device.is_cpu()) return Storage::allocate_cpu(bytes);
  auto fn = cuda_allocate_hook();
  SINTER_CHECK(fn != nullptr, "a tensor on ", device,
               kNeedsCudaBackend);
  return fn(bytes, device);
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace detail

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED std::shared_ptr<TensorImpl> TensorImpl::empty(const Shape& shape, DType dtype, Device device,
                                                            bool pinned) {
  // The element count and every contiguous stride must fit in int64 (so no product of dims can overflow later).
  std::int64_t count = 1;
  for (auto d : shape) {
    SINTER_CHECK(d >= 0, "negative dimension in shape ", shape);
    const std::int64_t f = d > 1 ? d : 1;
    SINTER_CHECK(count <= (std::int64_t{1} << 60) / f, "a tensor of shape ", shape,
                 " has more elements than any memory can hold; check the shape");
    count *= f;
  }
  auto t = std::make_shared<TensorImpl>();
  SINTER_CHECK(!pinned || device.is_cpu(), "only host memory can be pinned, not memory on ", device);
  t->storage = detail::allocate_storage(static_cast<std::size_t>(numel_of(shape)) * element_size(dtype), device, pinned);
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
  return t;
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter
