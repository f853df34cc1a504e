#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace docvault::metrics {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  return buf;
}

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra) add(extra->first, extra->second);
  return out + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s{bounds_, {}, sum_.load(), count_.load()};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  return s;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

Registry::Child& Registry::child(std::string_view name, std::string_view help, Type type, const Labels& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  if (it->second.type != type) throw std::logic_error("metric " + std::string(name) + " registered with two types");
  return it->second.children[labels];
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  runtime::MutexLock lock(mutex_);
  auto& c = child(name, help, Type::counter, labels);
  if (!c.counter) c.counter = std::make_unique<Counter>();
  return *c.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  runtime::MutexLock lock(mutex_);
  auto& c = child(name, help, Type::gauge, labels);
  if (!c.gauge) c.gauge = std::make_unique<Gauge>();
  return *c.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                               const Labels& labels) {
  runtime::MutexLock lock(mutex_);
  auto& c = child(name, help, Type::histogram, labels);
  if (!c.histogram) c.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *c.histogram;
}

void Registry::counter_callback(std::string_view name, std::string_view help, std::function<double()> read,
                                const Labels& labels) {
  runtime::MutexLock lock(mutex_);
  child(name, help, Type::counter, labels).callback = std::move(read);
}

void Registry::gauge_callback(std::string_view name, std::string_view help, std::function<double()> read,
                              const Labels& labels) {
  runtime::MutexLock lock(mutex_);
  child(name, help, Type::gauge, labels).callback = std::move(read);
}

std::string Registry::expose() const {
  runtime::MutexLock lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::counter ? "counter" : family.type == Type::gauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + family.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, c] : family.children) {
      if (c.counter) out += name + label_text(labels) + " " + format_value(c.counter->value()) + "\n";
      if (c.gauge) out += name + label_text(labels) + " " + format_value(c.gauge->value()) + "\n";
      if (c.callback) {
        double v = 0;
        try {
          v = c.callback();
        } catch (const std::exception&) {
          v = std::nan("");
        }
        out += name + label_text(labels) + " " + format_value(v) + "\n";
      }
      if (c.histogram) {
        auto s = c.histogram->snapshot();
        for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
          std::pair<std::string, std::string> le{"le", i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf"};
          out += name + "_bucket" + label_text(labels, &le) + " " + std::to_string(s.cumulative[i]) + "\n";
        }
        out += name + "_sum" + label_text(labels) + " " + format_value(s.sum) + "\n";
        out += name + "_count" + label_text(labels) + " " + std::to_string(s.count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace docvault::metrics
