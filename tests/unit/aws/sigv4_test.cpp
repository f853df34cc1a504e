// The signer against the official SigV4 test suite, read at run time from
// tests/data/aws-sigv4-test-suite in the repository (Apache-2.0, see its README): one test per case folder, each
// checking header signing and query presigning byte for byte. A missing
// folder, fewer than 38 cases or a case without its expected files fails.
#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_env.h"

namespace docvault::aws {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMinimumCases = 38;

fs::path suite_dir() {
  return docvault::testing::source_dir() / "tests" / "data" / "aws-sigv4-test-suite";
}

// Computed when the tests are registered; empty if the folder is missing, which
// the SuiteIsComplete test turns into a failure.
std::vector<std::string> list_cases() {
  std::vector<std::string> cases;
  std::error_code error;
  for (fs::directory_iterator it(suite_dir(), error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_directory()) cases.push_back(it->path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ParsedRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
};

// request.txt: "METHOD target HTTP/1.1", header lines (a line starting with
// whitespace continues the previous value), a blank line, the body. Targets
// may contain spaces ("/example space/"), so the version is cut from the end.
ParsedRequest parse_request(const std::string& text) {
  ParsedRequest request;
  std::size_t position = 0;
  auto next_line = [&]() -> std::optional<std::string> {
    if (position > text.size()) return std::nullopt;
    auto end = text.find('\n', position);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(position, end - position);
    position = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  };
  auto request_line = next_line().value_or("");
  auto first_space = request_line.find(' ');
  auto last_space = request_line.rfind(' ');
  if (first_space == std::string::npos || last_space <= first_space) {
    throw std::runtime_error("malformed request line: " + request_line);
  }
  request.method = request_line.substr(0, first_space);
  request.target = request_line.substr(first_space + 1, last_space - first_space - 1);
  while (auto line = next_line()) {
    if (line->empty()) break;
    if (line->front() == ' ' || line->front() == '\t') {
      if (request.headers.empty()) throw std::runtime_error("continuation before any header");
      request.headers.back().value += "\n" + *line;
      continue;
    }
    auto colon = line->find(':');
    if (colon == std::string::npos) throw std::runtime_error("malformed header: " + *line);
    request.headers.push_back({line->substr(0, colon), line->substr(colon + 1)});
  }
  if (position <= text.size()) request.body = text.substr(position);
  return request;
}

struct Context {
  Credentials credentials;
  std::string region;
  std::string service;
  std::chrono::system_clock::time_point time;
  SigningOptions options;
};

Context read_context(const fs::path& file) {
  auto json = nlohmann::json::parse(read_text(file));
  Context context;
  const auto& credentials = json.at("credentials");
  context.credentials.access_key_id = credentials.at("access_key_id").get<std::string>();
  context.credentials.secret_access_key = credentials.at("secret_access_key").get<std::string>();
  context.credentials.session_token = credentials.value("token", "");
  context.region = json.at("region").get<std::string>();
  context.service = json.at("service").get<std::string>();
  auto time = parse_iso8601_utc(json.at("timestamp").get<std::string>());
  if (!time) throw std::runtime_error("bad timestamp in " + file.string());
  context.time = *time;
  context.options.normalize_path = json.value("normalize", true);
  context.options.double_encode_path = true;  // the suite's services are not S3
  context.options.add_content_sha256_header = json.value("sign_body", false);
  context.options.omit_session_token = json.value("omit_session_token", false);
  context.options.expires = std::chrono::seconds(json.value("expiration_in_seconds", 3600));
  return context;
}

// The value of the first "Name:value" line of a signed request.
std::string header_line_value(const std::string& request, std::string_view name) {
  std::istringstream lines(request);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ':') {
      return line.substr(name.size() + 1);
    }
  }
  return {};
}

class SigV4Suite : public ::testing::TestWithParam<std::string> {};

TEST(SigV4SuiteFolder, IsCompleteAndReadable) {
  ASSERT_TRUE(fs::is_directory(suite_dir())) << "missing test vectors: " << suite_dir();
  auto cases = list_cases();
  EXPECT_GE(cases.size(), kMinimumCases)
      << "found only " << cases.size() << " cases in " << suite_dir();
}

TEST_P(SigV4Suite, MatchesExpectedSigningByteForByte) {
  const fs::path dir = suite_dir() / GetParam();
  for (const char* required : {"context.json", "request.txt", "header-canonical-request.txt",
                               "header-string-to-sign.txt", "header-signature.txt"}) {
    ASSERT_TRUE(fs::exists(dir / required)) << GetParam() << " has no " << required;
  }
  auto context = read_context(dir / "context.json");
  auto request = parse_request(read_text(dir / "request.txt"));
  RequestToSign to_sign{request.method, request.target, request.headers, request.body, {}};
  Signer signer(context.region, context.service, context.options);

  {
    SCOPED_TRACE("header signing");
    auto signed_request = signer.sign(to_sign, context.credentials, context.time);
    EXPECT_EQ(signed_request.canonical_request, read_text(dir / "header-canonical-request.txt"));
    EXPECT_EQ(signed_request.string_to_sign, read_text(dir / "header-string-to-sign.txt"));
    EXPECT_EQ(signed_request.signature, read_text(dir / "header-signature.txt"));
    if (fs::exists(dir / "header-signed-request.txt")) {
      auto expected = read_text(dir / "header-signed-request.txt");
      auto authorization =
          std::find_if(signed_request.headers_to_add.begin(), signed_request.headers_to_add.end(),
                       [](const Header& h) { return h.name == "Authorization"; });
      ASSERT_NE(authorization, signed_request.headers_to_add.end());
      EXPECT_EQ(authorization->value, header_line_value(expected, "Authorization"));
    }
  }

  bool has_query_files = fs::exists(dir / "query-canonical-request.txt");
  if (has_query_files) {
    SCOPED_TRACE("query presigning");
    auto presigned = signer.presign(to_sign, context.credentials, context.time);
    EXPECT_EQ(presigned.canonical_request, read_text(dir / "query-canonical-request.txt"));
    EXPECT_EQ(presigned.string_to_sign, read_text(dir / "query-string-to-sign.txt"));
    EXPECT_EQ(presigned.signature, read_text(dir / "query-signature.txt"));
    if (fs::exists(dir / "query-signed-request.txt")) {
      auto expected = read_text(dir / "query-signed-request.txt");
      auto separator = request.target.find('?') == std::string::npos ? "?" : "&";
      EXPECT_EQ(request.method + " " + request.target + separator + presigned.query_to_append +
                    " HTTP/1.1",
                expected.substr(0, expected.find('\n')));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Official, SigV4Suite, ::testing::ValuesIn(list_cases()),
                         [](const ::testing::TestParamInfo<std::string>& case_info) {
                           std::string name = case_info.param;
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
                               '_');
                           return name;
                         });

// Beyond the suite: the S3 variant, the key cache, and misuse.

const Credentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", {}};

std::chrono::system_clock::time_point example_time() {
  return *parse_iso8601_utc("2015-08-30T12:36:00Z");
}

TEST(SigV4, S3SignsThePathAsSentWithContentHash) {
  Headers headers{{"Host", "bucket.s3.amazonaws.com"}};
  Signer signer("us-east-1", "s3");
  RequestToSign request{"GET", "/a//b/../my%20key", headers, "", kUnsignedPayload};
  auto result = signer.sign(request, kExample, example_time());
  EXPECT_EQ(result.canonical_request.substr(0, result.canonical_request.find('\n', 4)),
            "GET\n/a//b/../my%20key");
  EXPECT_NE(result.canonical_request.find("x-amz-content-sha256:UNSIGNED-PAYLOAD\n"),
            std::string::npos);
  EXPECT_TRUE(result.canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
}

TEST(SigV4, OtherServicesEncodeTheSentPathAgain) {
  Headers headers{{"Host", "example.amazonaws.com"}};
  Signer signer("us-east-1", "sqs");
  RequestToSign request{"GET", "/my%20queue", headers, "", {}};
  auto result = signer.sign(request, kExample, example_time());
  EXPECT_TRUE(result.canonical_request.starts_with("GET\n/my%2520queue\n"));
}

TEST(SigV4, QueryKeysAndValuesAreReencodedAndSorted) {
  Headers headers{{"Host", "example.amazonaws.com"}};
  Signer signer("us-east-1", "service");
  RequestToSign request{"GET", "/?b=2&a=x+y&a=%2f&c", headers, "", {}};
  auto result = signer.sign(request, kExample, example_time());
  EXPECT_TRUE(result.canonical_request.starts_with("GET\n/\na=%2F&a=x%2By&b=2&c=\n"))
      << result.canonical_request;
}

TEST(SigV4, SigningKeyCacheGivesTheSameSignatureAndIsHit) {
  auto cache = std::make_shared<SigningKeyCache>();
  Headers headers{{"Host", "example.amazonaws.com"}};
  RequestToSign request{"GET", "/", headers, "", {}};
  Signer cached("us-east-1", "service", SigningOptions{}, cache);
  Signer uncached("us-east-1", "service", SigningOptions{}, nullptr);
  auto first = cached.sign(request, kExample, example_time());
  auto second = cached.sign(request, kExample, example_time());
  EXPECT_EQ(first.signature, uncached.sign(request, kExample, example_time()).signature);
  EXPECT_EQ(first.signature, second.signature);
  EXPECT_EQ(cache->size(), 1u);
  EXPECT_EQ(first.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, HeadersTheSignerOwnsAreReplaced) {
  Headers headers{{"Host", "example.amazonaws.com"},
                  {"X-Amz-Date", "19990101T000000Z"},
                  {"Authorization", "stale"},
                  {"User-Agent", "docvault"}};
  Signer signer("us-east-1", "service");
  RequestToSign request{"GET", "/", headers, "", {}};
  auto result = signer.sign(request, kExample, example_time());
  EXPECT_EQ(result.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, RejectsMisuse) {
  Headers no_host{{"X-Other", "1"}};
  Signer signer("us-east-1", "service");
  EXPECT_THROW(signer.sign({"GET", "/", no_host, "", {}}, kExample, example_time()),
               std::invalid_argument);
  SigningOptions too_long;
  too_long.expires = std::chrono::hours(24 * 8);
  Headers headers{{"Host", "example.amazonaws.com"}};
  Signer presigner("us-east-1", "service", too_long);
  EXPECT_THROW(presigner.presign({"GET", "/", headers, "", {}}, kExample, example_time()),
               std::invalid_argument);
}

TEST(SigV4, UriEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(uri_encode("a-b_c.d~e f/g+h=\xe1\x88\xb4"), "a-b_c.d~e%20f%2Fg%2Bh%3D%E1%88%B4");
  EXPECT_EQ(uri_encode("a/b c", true), "a/b%20c");
}

}  // namespace
}  // namespace docvault::aws
