// Metrics in the Prometheus text format, from a small registry of our own.
//
// A Registry holds metric families (counter, gauge, histogram), each with a
// name in Prometheus style (docvault_<area>_<what>_<unit>), a help text and
// children by label values. Components ask the registry for their children
// once, keep the references (they live as long as the registry) and update
// them on the hot path with atomics only. Values that are cheaper to read
// than to track (a queue depth, a pool's use) are registered as callbacks and
// read when /metrics is scraped.
//
// Thread-safety: all members may be called from any thread. Looking a child
// up takes a mutex; updating one does not.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "runtime/mutex.h"
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace docvault::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf last
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Bucket bounds for latencies in seconds: 1 ms to 30 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});
  // A counter whose value is read by `read` at every scrape (a total kept elsewhere).
  void counter_callback(std::string_view name, std::string_view help, std::function<double()> read,
                        const Labels& labels = {});
  // A gauge whose value is read by `read` at every scrape.
  void gauge_callback(std::string_view name, std::string_view help, std::function<double()> read,
                      const Labels& labels = {});

  // Everything, in the Prometheus text exposition format (version 0.0.4).
  std::string expose() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Child {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, Child> children;
  };
  Child& child(std::string_view name, std::string_view help, Type type, const Labels& labels) REQUIRES(mutex_);

  mutable runtime::Mutex mutex_;
  std::map<std::string, Family, std::less<>> families_ GUARDED_BY(mutex_);
};

}  // namespace docvault::metrics
