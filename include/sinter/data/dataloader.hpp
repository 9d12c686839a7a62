// SPDX-License-Identifier: Apache-2.0
// DataLoader: batches of a TensorDataset with seeded shuffling, drop_last, transforms, and a background thread that
// prepares the next batches while the training step runs. Iterate with a range-for; each loop is one epoch.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <sinter/data/dataset.hpp>
#include <sinter/data/transforms.hpp>

namespace sinter::data {

struct DataLoaderOptions {
  DataLoaderOptions(std::int64_t batch_size = 1) : batch_size_(batch_size) {}  // NOLINT
  DataLoaderOptions& batch_size(std::int64_t b) { batch_size_ = b; return *this; }
  DataLoaderOptions& shuffle(bool s) { shuffle_ = s; return *this; }
  DataLoaderOptions& drop_last(bool d) { drop_last_ = d; return *this; }
  DataLoaderOptions& seed(std::uint64_t s) { seed_ = s; return *this; }
  /// Batches prepared ahead by the worker thread (0: no worker, batches are made on demand).
  DataLoaderOptions& prefetch(std::int64_t p) { prefetch_ = p; return *this; }
  /// Batches in page-locked memory (pinned by the worker thread), for fast and non-blocking copies to the GPU;
  /// needs the CUDA backend in the program.
  DataLoaderOptions& pin_memory(bool p) { pin_memory_ = p; return *this; }
  std::int64_t batch_size_;
  bool shuffle_ = false, drop_last_ = false, pin_memory_ = false;
  std::uint64_t seed_ = 0;
  std::int64_t prefetch_ = 2;
};

class DataLoader {
 public:
  DataLoader(TensorDataset dataset, DataLoaderOptions options, std::vector<Transform> transforms = {});
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  ~DataLoader();

  /// Batches per epoch.
  std::int64_t size() const {
    const std::int64_t n = ds_.size(), b = o_.batch_size_;
    return o_.drop_last_ ? n / b : (n + b - 1) / b;
  }
  const TensorDataset& dataset() const noexcept { return ds_; }

  class Iterator {
   public:
    Iterator(DataLoader* owner, bool end) : owner_(owner), end_(end) {
      if (!end_) advance();
    }
    const Example& operator*() const { return *current_; }
    const Example* operator->() const { return &*current_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return end_ != other.end_; }
    bool operator==(const Iterator& other) const { return end_ == other.end_; }

   private:
    void advance() {
      current_ = owner_->next();
      if (!current_) end_ = true;
    }
    DataLoader* owner_;
    bool end_;
    std::optional<Example> current_;
  };

  /// Starts an epoch: reshuffles (when asked) and starts the worker. An unfinished previous epoch is abandoned.
  Iterator begin();
  Iterator end() { return Iterator(this, true); }

 private:
  Example make(std::int64_t b);
  void produce();
  std::optional<Example> next();
  void stop();

  TensorDataset ds_;
  DataLoaderOptions o_;
  std::vector<Transform> transforms_;
  Generator gen_;  // used by the worker only while an epoch runs, by begin() between epochs
  std::vector<std::int64_t> order_;
  std::int64_t next_batch_ = 0;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Example> queue_;
  bool stopping_ = false;
  std::exception_ptr error_;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED DataLoader::DataLoader(TensorDataset dataset, DataLoaderOptions options,
                                     std::vector<Transform> transforms)
    : ds_(std::move(dataset)), o_(options), transforms_(std::move(transforms)), gen_(options.seed_) {
  SINTER_CHECK(o_.batch_size_ > 0, "DataLoader: batch_size must be positive, got ", o_.batch_size_);
  SINTER_CHECK(o_.prefetch_ >= 0, "DataLoader: prefetch must be non-negative, got ", o_.prefetch_);
}

SINTER_SHARED DataLoader::~DataLoader() { stop(); }

SINTER_SHARED DataLoader::Iterator DataLoader::begin() {
  stop();
  order_.resize(static_cast<std::size_t>(ds_.size()));
  std::iota(order_.begin(), order_.end(), 0);
  if (o_.shuffle_)
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[gen_.next_u64() % i]);
  next_batch_ = 0;
  if (o_.prefetch_ > 0) {
    stopping_ = false;
    worker_ = std::thread([this] { produce(); });
  }
  return Iterator(this, false);
}

SINTER_SHARED Example DataLoader::make(std::int64_t b) {
  const std::int64_t start = b * o_.batch_size_;
  const std::int64_t n = std::min(o_.batch_size_, ds_.size() - start);
  Example e = ds_.batch(order_.data() + start, n);
  for (auto& t : transforms_) t(e.data, gen_);
  if (o_.pin_memory_) {
    e.data = e.data.pin_memory();
    e.target = e.target.pin_memory();
  }
  return e;
}

SINTER_SHARED void DataLoader::produce() {
  try {
    for (std::int64_t b = 0; b < size(); ++b) {
      Example e = make(b);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || static_cast<std::int64_t>(queue_.size()) < o_.prefetch_; });
      if (stopping_) return;
      queue_.push_back(std::move(e));
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

SINTER_SHARED std::optional<Example> DataLoader::next() {
  if (next_batch_ >= size()) return std::nullopt;
  ++next_batch_;
  if (o_.prefetch_ == 0) return make(next_batch_ - 1);
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty() || error_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  Example e = std::move(queue_.front());
  queue_.pop_front();
  cv_.notify_all();
  return e;
}

SINTER_SHARED void DataLoader::stop() {
  if (worker_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  queue_.clear();
  error_ = nullptr;
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::data
