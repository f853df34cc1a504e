#include "metrics/metrics.h"

#include <thread>

#include <gtest/gtest.h>

namespace docvault::metrics {
namespace {

TEST(Metrics, ExposesCountersGaugesAndHistogramsInPrometheusText) {
  Registry r;
  r.counter("docvault_things_total", "Things.", {{"kind", "a"}}).inc();
  r.counter("docvault_things_total", "Things.", {{"kind", "a"}}).inc(2);
  r.counter("docvault_things_total", "Things.", {{"kind", "b\"q"}}).inc();
  r.gauge("docvault_level", "Level.").set(1.5);
  r.gauge_callback("docvault_read_at_scrape", "Read.", [] { return 42.0; });
  auto& h = r.histogram("docvault_latency_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.expose();
  EXPECT_NE(text.find("# HELP docvault_things_total Things.\n# TYPE docvault_things_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("docvault_things_total{kind=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("docvault_things_total{kind=\"b\\\"q\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("docvault_level 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("docvault_read_at_scrape 42\n"), std::string::npos);
  EXPECT_NE(text.find("docvault_latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("docvault_latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("docvault_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("docvault_latency_seconds_sum 5.55\n"), std::string::npos) << text;
  EXPECT_NE(text.find("docvault_latency_seconds_count 3\n"), std::string::npos);
}

TEST(Metrics, OneNameOneType) {
  Registry r;
  r.counter("docvault_x_total", "X.");
  EXPECT_THROW(r.gauge("docvault_x_total", "X."), std::logic_error);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& c = r.counter("docvault_c_total", "C.");
  auto& h = r.histogram("docvault_h_seconds", "H.", latency_buckets());
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.002);
      }
    });
  }
  threads.clear();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.snapshot().count, 40000u);
}

}  // namespace
}  // namespace docvault::metrics
