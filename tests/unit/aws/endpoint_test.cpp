// Endpoint and region resolution from an injected environment.
#include <gtest/gtest.h>

#include "aws/endpoint.h"

namespace docvault::aws {
namespace {

using Variables = std::map<std::string, std::string, std::less<>>;

Endpoint resolve(const char* service, Variables variables, std::string_view resource = {}) {
  return EndpointResolver(service, fixed_environment(std::move(variables))).resolve(resource);
}

TEST(Endpoint, DefaultsToTheRegionalAwsEndpoint) {
  auto sqs = resolve("sqs", {{"AWS_REGION", "eu-west-1"}});
  EXPECT_EQ(sqs.url, "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_EQ(sqs.region, "eu-west-1");
  EXPECT_EQ(resolve("sns", {{"AWS_REGION", "cn-north-1"}}).url, "https://sns.cn-north-1.amazonaws.com.cn");
}

TEST(Endpoint, AwsRegionWinsOverAwsDefaultRegion) {
  EXPECT_EQ(resolve("sns", {{"AWS_REGION", "eu-west-2"}, {"AWS_DEFAULT_REGION", "us-west-2"}}).region,
            "eu-west-2");
  EXPECT_EQ(resolve("sns", {{"AWS_DEFAULT_REGION", "us-west-2"}}).region, "us-west-2");
}

TEST(Endpoint, TheServiceSpecificOverrideWinsOverTheGeneralOne) {
  Variables variables{{"AWS_REGION", "us-east-1"},
                      {"AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"},
                      {"AWS_ENDPOINT_URL_SNS", "http://localhost:9911"}};
  EXPECT_EQ(resolve("sqs", variables).url, "http://127.0.0.1:4566");
  EXPECT_EQ(resolve("sns", variables).url, "http://localhost:9911");
  // The override also wins over a queue URL's own host.
  EXPECT_EQ(resolve("sqs", variables, "https://sqs.eu-west-1.amazonaws.com/1/q").url,
            "http://127.0.0.1:4566");
}

TEST(Endpoint, OverridesCanBeSwitchedOff) {
  Variables variables{{"AWS_REGION", "us-east-1"},
                      {"AWS_ENDPOINT_URL", "http://127.0.0.1:4566"},
                      {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}};
  EXPECT_EQ(resolve("sqs", variables).url, "https://sqs.us-east-1.amazonaws.com");
}

TEST(Endpoint, WithoutAnOverrideAQueueUrlGivesTheEndpointAndTheRegion) {
  auto aws = resolve("sqs", {}, "https://sqs.eu-west-1.amazonaws.com/123/q");
  EXPECT_EQ(aws.url, "https://sqs.eu-west-1.amazonaws.com");
  EXPECT_EQ(aws.region, "eu-west-1");

  auto local = resolve("sqs", {}, "http://sqs.us-east-1.localhost:4566/000000000000/name");
  EXPECT_EQ(local.url, "http://sqs.us-east-1.localhost:4566");
  EXPECT_EQ(local.region, "us-east-1");

  EXPECT_EQ(resolve("sqs", {}, "https://queue.amazonaws.com/1/q").region, "us-east-1");
  EXPECT_EQ(resolve("sqs", {}, "https://us-gov-west-1.queue.amazonaws.com/1/q").region,
            "us-gov-west-1");
  // A configured region is kept even when the URL names one.
  EXPECT_EQ(resolve("sqs", {{"AWS_REGION", "ap-south-1"}}, "https://sqs.eu-west-1.amazonaws.com/1/q")
                .region,
            "ap-south-1");
}

TEST(Endpoint, AnArnGivesTheRegionWhenNoneIsConfigured) {
  auto sns = resolve("sns", {}, "arn:aws:sns:eu-central-1:123456789012:audit");
  EXPECT_EQ(sns.region, "eu-central-1");
  EXPECT_EQ(sns.url, "https://sns.eu-central-1.amazonaws.com");
}

TEST(Endpoint, NoRegionAnywhereIsAConfigurationError) {
  try {
    resolve("sqs", {}, "http://127.0.0.1:4566/000000000000/q");
    FAIL() << "no error";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), "InvalidConfiguration");
    EXPECT_EQ(error.http_status(), 0);
  }
  EXPECT_THROW(resolve("sns", {}), AwsError);
}

TEST(Endpoint, AnOverrideThatIsNotAUrlIsRejectedAtConstruction) {
  EXPECT_THROW(EndpointResolver("sqs", fixed_environment({{"AWS_ENDPOINT_URL", "localhost:4566"}})),
               AwsError);
}

TEST(Url, PartsAreSplitAsTheSignerNeedsThem) {
  auto parts = parse_url("HTTPS://user@Example.COM:8443/a/b?x=1#frag");
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->scheme, "https");
  EXPECT_EQ(parts->authority, "Example.COM:8443");
  EXPECT_EQ(parts->host, "example.com");
  EXPECT_EQ(parts->path, "/a/b?x=1");
  EXPECT_EQ(parse_url("http://[::1]:4566")->host, "[::1]");
  EXPECT_EQ(parse_url("http://h")->path, "/");
  EXPECT_FALSE(parse_url("ftp://h/x").has_value());
  EXPECT_FALSE(parse_url("no scheme").has_value());
}

TEST(Url, RegionsAreRecognisedInHostLabels) {
  EXPECT_EQ(region_from_host("sqs.ap-southeast-2.amazonaws.com", "sqs"), "ap-southeast-2");
  EXPECT_EQ(region_from_host("eu-west-3.queue.amazonaws.com", "sqs"), "eu-west-3");
  EXPECT_EQ(region_from_host("sns.us-east-1.amazonaws.com", "sqs"), std::nullopt);
  EXPECT_EQ(region_from_host("127.0.0.1", "sqs"), std::nullopt);
  EXPECT_EQ(region_from_host("localhost", "sqs"), std::nullopt);
  EXPECT_EQ(region_from_host("my-host-1.example.com", "sqs"), std::nullopt);
  EXPECT_EQ(region_from_host("sqs.not_a_region.example.com", "sqs"), std::nullopt);
}

}  // namespace
}  // namespace docvault::aws
