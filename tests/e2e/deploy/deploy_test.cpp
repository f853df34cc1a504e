// The deployment files against the binary they deploy: deploy.sh renders
// infra/ecs-task-def.json.template (and the IAM policies of infra/iam/), and
// the result must carry every variable `docvault config docs` lists, with
// docvault's own defaults, in valid JSON with no placeholder left. The
// Dockerfile's runtime stage must install every library the binary links.
#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "process.h"
#include "test_env.h"

namespace docvault {
namespace {

using docvault::testing::Process;
using docvault::testing::TempDir;
using nlohmann::json;
using namespace std::chrono_literals;

struct Outcome {
  int exit_code = -1;
  std::string output;
};

Outcome run(const std::filesystem::path& program, const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env = {}) {
  TempDir dir;
  Process process(program, args, env, dir.path() / "output.log");
  auto code = process.wait(60s);
  EXPECT_TRUE(code.has_value()) << program << " did not finish within 60 s";
  return {code.value_or(-1), process.output()};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One row of `docvault config docs`.
struct Variable {
  std::string name;
  std::string default_value;  // "" when (unset)
  bool secret = false;
};

std::vector<Variable> docvault_variables() {
  auto docs = run(docvault::testing::docvault_binary(), {"config", "docs"});
  EXPECT_EQ(docs.exit_code, 0) << docs.output;
  // | `NAME` | `default` or (unset) | allowed | yes/no | meaning |
  static const std::regex row(R"(^\| `([A-Z0-9_]+)` \| (`([^`]*)`|\(unset\)) \| [^|]* \| (yes|no) \|)");
  std::vector<Variable> variables;
  std::istringstream lines(docs.output);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) variables.push_back({m[1], m[3], m[4] == "yes"});
  }
  EXPECT_GE(variables.size(), 20u) << "could not read the table of `docvault config docs`:\n" << docs.output;
  return variables;
}

// The inputs deploy.sh reads besides docvault's own variables.
const std::vector<std::string> kDeploymentInputs = {
    "DOCVAULT_IMAGE",        "ECS_TASK_ROLE_ARN", "ECS_EXECUTION_ROLE_ARN", "DATABASE_URL_SECRET_ARN",
    "EPR_ENTITY_EVENTS_TOPIC_ARN", "AWS_REGION", "AWS_DEFAULT_REGION", "ECS_TASK_FAMILY",
    "ECS_TASK_CPU",          "ECS_TASK_MEMORY",   "ECS_CPU_ARCHITECTURE",   "ECS_LOG_GROUP",
    "ECS_CLUSTER",           "ECS_SERVICE",       "DOCVAULT_BIN",           "DOCVAULT_JWT_SECRET_ARN"};

class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override {
    variables_ = docvault_variables();
    // scripts/test exports the emulator's queue URLs and region: deploy.sh
    // would take them. Each test starts from an environment without any input.
    for (const auto& v : variables_) clean_env_[v.name] = "";
    for (const auto& name : kDeploymentInputs) clean_env_[name] = "";
  }

  // Runs deploy.sh with `args` (plus --output and --docvault) and `env` over
  // the clean environment.
  Outcome deploy(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    auto merged = clean_env_;
    for (const auto& [k, v] : env) merged[k] = v;
    args.insert(args.end(), {"--output", output_.string(), "--docvault", docvault::testing::docvault_binary().string()});
    return run(docvault::testing::source_dir() / "deploy.sh", args, merged);
  }

  json rendered() {
    auto text = read_file(output_);
    EXPECT_EQ(text.find("${"), std::string::npos) << "a placeholder is left:\n" << text;
    return json::parse(text);
  }

  static std::map<std::string, std::string> environment_of(const json& container) {
    std::map<std::string, std::string> env;
    for (const auto& entry : container.at("environment")) {
      auto name = entry.at("name").get<std::string>();
      EXPECT_FALSE(env.contains(name)) << name << " appears twice";
      env[name] = entry.at("value").get<std::string>();
    }
    return env;
  }

  std::vector<Variable> variables_;
  std::map<std::string, std::string> clean_env_;
  TempDir dir_;
  std::filesystem::path output_ = dir_.path() / "ecs-task-def.json";
};

TEST_F(DeployTest, ExampleCarriesEveryConfigurationVariable) {
  auto result = deploy({"--example"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto task = rendered();
  ASSERT_EQ(task.at("containerDefinitions").size(), 1u);
  const auto& container = task.at("containerDefinitions").at(0);
  auto env = environment_of(container);
  std::map<std::string, std::string> secrets;
  for (const auto& entry : container.at("secrets")) {
    secrets[entry.at("name").get<std::string>()] = entry.at("valueFrom").get<std::string>();
  }

  std::set<std::string> known{"AWS_REGION"};
  for (const auto& v : variables_) {
    known.insert(v.name);
    if (v.secret) {
      EXPECT_TRUE(secrets.contains(v.name)) << v.name << " is a secret: it belongs in `secrets`";
      EXPECT_FALSE(env.contains(v.name)) << v.name << " is a secret: never a plain environment entry";
      EXPECT_FALSE(secrets[v.name].empty()) << v.name;
    } else {
      EXPECT_TRUE(env.contains(v.name)) << v.name << " is missing from the task definition's environment";
    }
  }
  for (const auto& [name, value] : env) {
    EXPECT_TRUE(known.contains(name)) << name << " is not a variable docvault reads";
  }
  for (const auto& [name, value] : secrets) {
    EXPECT_TRUE(known.contains(name)) << name << " is not a variable docvault reads";
  }
}

TEST_F(DeployTest, DefaultsAreDocvaultsOwn) {
  auto result = deploy({"--example"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto env = environment_of(rendered().at("containerDefinitions").at(0));

  // The spec's defaults, spelled out.
  EXPECT_EQ(env["ENABLE_DOCUMENT_CONSUMER"], "true");
  EXPECT_EQ(env["DOCUMENT_CONSUMER_MAX_MESSAGES"], "5");
  EXPECT_EQ(env["DOCUMENT_CONSUMER_WAIT_TIME"], "20");
  // The image's data directory is the one deliberate difference.
  EXPECT_EQ(env["DOCVAULT_DATA_DIR"], "/var/lib/docvault");
  const std::set<std::string> example_filled{"DOCUMENT_VAULT_SQS_URL", "AUDIT_SNS_TOPIC_ARN",
                                             "DOCUMENT_EVENTS_SQS_URL"};
  for (const auto& v : variables_) {
    if (v.secret || v.name == "DOCVAULT_DATA_DIR") continue;
    if (example_filled.contains(v.name)) {
      EXPECT_FALSE(env[v.name].empty()) << v.name << " should get an example value";
    } else {
      EXPECT_EQ(env[v.name], v.default_value) << v.name << ": deploy.sh's default differs from docvault's";
    }
  }
}

TEST_F(DeployTest, TaskDefinitionFitsEcsAndDocvault) {
  auto result = deploy({"--example"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto task = rendered();
  EXPECT_EQ(task.at("networkMode"), "awsvpc");
  EXPECT_EQ(task.at("requiresCompatibilities"), json::array({"FARGATE"}));
  EXPECT_TRUE(task.at("taskRoleArn").get<std::string>().starts_with("arn:aws:iam::"));
  EXPECT_TRUE(task.at("executionRoleArn").get<std::string>().starts_with("arn:aws:iam::"));
  const auto& container = task.at("containerDefinitions").at(0);
  EXPECT_FALSE(container.at("image").get<std::string>().empty());
  EXPECT_EQ(container.at("portMappings").at(0).at("containerPort"), 8080);
  auto check = container.at("healthCheck").at("command").dump();
  EXPECT_NE(check.find("http://127.0.0.1:8080/healthz"), std::string::npos) << check;
  // ECS kills after stopTimeout; docvault must have drained by then.
  auto env = environment_of(container);
  EXPECT_EQ(container.at("stopTimeout"), 30);
  EXPECT_LT(std::stoi(env["DOCUMENT_CONSUMER_SHUTDOWN_TIMEOUT"]), container.at("stopTimeout").get<int>());
  const auto& logs = container.at("logConfiguration");
  EXPECT_EQ(logs.at("logDriver"), "awslogs");
  EXPECT_EQ(logs.at("options").at("awslogs-region"), env["AWS_REGION"]);
  EXPECT_FALSE(logs.at("options").at("awslogs-group").get<std::string>().empty());
}

TEST_F(DeployTest, EnvironmentOverridesDefaults) {
  auto result = deploy({"--example"}, {{"ENABLE_DOCUMENT_CONSUMER", "false"},
                                       {"DOCUMENT_CONSUMER_MAX_MESSAGES", "10"},
                                       {"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "120"},
                                       {"AWS_REGION", "eu-west-1"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto env = environment_of(rendered().at("containerDefinitions").at(0));
  EXPECT_EQ(env["ENABLE_DOCUMENT_CONSUMER"], "false");
  EXPECT_EQ(env["DOCUMENT_CONSUMER_MAX_MESSAGES"], "10");
  EXPECT_EQ(env["DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT"], "120");
  EXPECT_EQ(env["AWS_REGION"], "eu-west-1");
}

TEST_F(DeployTest, MissingRequiredInputFailsNamingIt) {
  const std::map<std::string, std::string> complete{
      {"DOCVAULT_IMAGE", "registry.example/docvault:1"},
      {"ECS_TASK_ROLE_ARN", "arn:aws:iam::123456789012:role/docvault-task"},
      {"ECS_EXECUTION_ROLE_ARN", "arn:aws:iam::123456789012:role/docvault-exec"},
      {"DATABASE_URL_SECRET_ARN", "arn:aws:ssm:us-east-1:123456789012:parameter/docvault/database-url"},
      {"DOCVAULT_JWT_SECRET_ARN", "arn:aws:ssm:us-east-1:123456789012:parameter/docvault/jwt-secret"},
      {"DOCUMENT_VAULT_SQS_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/entity-events"},
      {"AUDIT_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:audit"},
      {"DOCUMENT_EVENTS_SQS_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/document-events"}};
  auto result = deploy({}, complete);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // The region came from the queue URL.
  EXPECT_EQ(environment_of(rendered().at("containerDefinitions").at(0))["AWS_REGION"], "us-east-1");

  for (const auto& [missing, ignored] : complete) {
    std::filesystem::remove(output_);
    auto env = complete;
    env[missing] = "";
    auto failed = deploy({}, env);
    EXPECT_EQ(failed.exit_code, 2) << "without " << missing << ":\n" << failed.output;
    EXPECT_NE(failed.output.find(missing + " is not set"), std::string::npos) << failed.output;
    EXPECT_FALSE(std::filesystem::exists(output_)) << "rendered without " << missing;
  }

  // The consumer's queue is required only while the consumer is enabled.
  auto env = complete;
  env["DOCUMENT_VAULT_SQS_URL"] = "";
  env["ENABLE_DOCUMENT_CONSUMER"] = "false";
  env["AWS_REGION"] = "us-east-1";
  auto without_consumer = deploy({}, env);
  EXPECT_EQ(without_consumer.exit_code, 0) << without_consumer.output;
}

TEST_F(DeployTest, ValuesDocvaultRejectsAreRefused) {
  auto result = deploy({"--example"}, {{"DOCUMENT_CONSUMER_MAX_MESSAGES", "11"}});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("DOCUMENT_CONSUMER_MAX_MESSAGES=\"11\""), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(output_));

  auto port = deploy({"--example"}, {{"DOCVAULT_HTTP_ADDR", "0.0.0.0:9000"}});
  EXPECT_EQ(port.exit_code, 2) << port.output;
  EXPECT_NE(port.output.find("DOCVAULT_HTTP_ADDR"), std::string::npos) << port.output;

  auto registered = deploy({"--example", "--register"});
  EXPECT_EQ(registered.exit_code, 2) << "--register must refuse example values:\n" << registered.output;
}

TEST_F(DeployTest, S3StorageGrantsTheBucketPrefixOnly) {
  TempDir policies;
  auto result = deploy({"--example", "--policies", policies.path().string()},
                       {{"DOCVAULT_BLOB_STORE", "s3"}, {"DOCVAULT_S3_BUCKET", "vault-docs"}, {"DOCVAULT_S3_PREFIX", "prod/"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto task_role = json::parse(read_file(policies.path() / "task-role-policy.json"));
  std::map<std::string, json> by_sid;
  for (const auto& statement : task_role.at("Statement")) by_sid[statement.at("Sid")] = statement;
  ASSERT_TRUE(by_sid.contains("DocumentObjects")) << task_role.dump(2);
  EXPECT_EQ(by_sid["DocumentObjects"].at("Resource"), "arn:aws:s3:::vault-docs/prod/*");
  EXPECT_EQ(by_sid["DocumentObjects"].at("Action"),
            json::array({"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                         "s3:ListMultipartUploadParts"}));
  EXPECT_EQ(by_sid["ListDocumentObjects"].at("Resource"), "arn:aws:s3:::vault-docs");
  EXPECT_EQ(by_sid["ListDocumentObjects"].at("Condition").at("StringLike").at("s3:prefix"), json::array({"prod/*"}));
}

TEST_F(DeployTest, ValuesAreEscapedIntoJson) {
  auto result = deploy({"--example"}, {{"DOCVAULT_IMAGE", R"(registry.example/a&b|c"d\e:1)"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(rendered().at("containerDefinitions").at(0).at("image"), R"(registry.example/a&b|c"d\e:1)");
}

TEST_F(DeployTest, PoliciesGrantWhatDocvaultCalls) {
  TempDir policies;
  auto result = deploy({"--example", "--policies", policies.path().string()},
                       {{"DOCUMENT_CONSUMER_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/dv-dlq"}});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  auto load = [&](const char* name) {
    auto text = read_file(policies.path() / name);
    EXPECT_EQ(text.find("${"), std::string::npos) << name << ":\n" << text;
    return json::parse(text);
  };
  const std::string queue = "arn:aws:sqs:us-east-1:123456789012:document-vault-entity-events";

  auto subscription = load("subscription-attributes.json");
  EXPECT_EQ(subscription.at("FilterPolicyScope"), "MessageBody");
  EXPECT_EQ(json::parse(subscription.at("FilterPolicy").get<std::string>()),
            json::parse(R"({"action":["entity.deleted","entity.suspended","entity.reinstated"]})"));

  auto queue_policy = load("sqs-queue-policy.json");
  const auto& allow = queue_policy.at("Statement").at(0);
  EXPECT_EQ(allow.at("Principal").at("Service"), "sns.amazonaws.com");
  EXPECT_EQ(allow.at("Action"), "sqs:SendMessage");
  EXPECT_EQ(allow.at("Resource"), queue);
  EXPECT_EQ(allow.at("Condition").at("ArnEquals").at("aws:SourceArn"),
            "arn:aws:sns:us-east-1:116981763412:epr-document-events");

  std::map<std::string, std::set<std::string>> granted;  // resource -> actions
  auto task_role = load("task-role-policy.json");
  for (const auto& statement : task_role.at("Statement")) {
    EXPECT_EQ(statement.at("Effect"), "Allow");
    auto actions = statement.at("Action");
    if (actions.is_string()) actions = json::array({actions});
    for (const auto& action : actions) granted[statement.at("Resource").get<std::string>()].insert(action.get<std::string>());
  }
  EXPECT_EQ(granted[queue], (std::set<std::string>{"sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                   "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}));
  EXPECT_EQ(granted["arn:aws:sqs:us-east-1:123456789012:document-vault-document-events"],
            std::set<std::string>{"sqs:SendMessage"});
  EXPECT_EQ(granted["arn:aws:sqs:us-east-1:123456789012:dv-dlq"], std::set<std::string>{"sqs:SendMessage"});
  EXPECT_EQ(granted["arn:aws:sns:us-east-1:123456789012:document-vault-audit-events"],
            std::set<std::string>{"sns:Publish"});
  EXPECT_EQ(granted.size(), 4u);

  // Content on the filesystem: no bucket statements.
  EXPECT_EQ(task_role.dump().find("s3:"), std::string::npos);

  auto execution = load("execution-role-policy.json").at("Statement").at(0);
  EXPECT_EQ(execution.at("Action"), "secretsmanager:GetSecretValue");
  EXPECT_EQ(execution.at("Resource"),
            rendered().at("containerDefinitions").at(0).at("secrets").at(0).at("valueFrom"));

  // Without a DLQ, its statement is left out rather than granted on "".
  TempDir no_dlq;
  ASSERT_EQ(deploy({"--example", "--policies", no_dlq.path().string()}).exit_code, 0);
  auto text = read_file(no_dlq.path() / "task-role-policy.json");
  EXPECT_EQ(text.find("DeadLetterQueue"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"\""), std::string::npos) << text;
}

// The Debian packages named after `apt-get install` in the runtime stage.
std::set<std::string> runtime_packages(const std::string& dockerfile) {
  auto stage = dockerfile.find("FROM debian:bookworm-slim");
  EXPECT_NE(stage, std::string::npos) << "no debian:bookworm-slim runtime stage";
  auto install = dockerfile.find("apt-get install", stage);
  EXPECT_NE(install, std::string::npos) << "the runtime stage installs nothing";
  std::istringstream words(dockerfile.substr(install + std::string("apt-get install").size()));
  std::set<std::string> packages;
  for (std::string word; words >> word && word != "&&";) {
    if (word != "\\" && !word.starts_with("-")) packages.insert(word);
  }
  return packages;
}

TEST_F(DeployTest, DockerfileRuntimeStageInstallsEveryLinkedLibrary) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The Dockerfile ships the release build; a sanitizer build links its
  // runtime and, inlining differently, other libraries directly (libfmt).
  GTEST_SKIP() << "checks the release binary's libraries, not a sanitizer build's";
#endif
  auto dockerfile = read_file(docvault::testing::source_dir() / "Dockerfile");
  for (const char* line : {"EXPOSE 8080", "ENTRYPOINT [\"docvault\"]", "CMD [\"serve\"]", "USER 10001"}) {
    EXPECT_NE(dockerfile.find(line), std::string::npos) << "Dockerfile lacks " << line;
  }
  EXPECT_NE(dockerfile.find("/healthz"), std::string::npos);
  auto packages = runtime_packages(dockerfile);

  // The binary's direct dependencies, resolved by the dynamic loader, then to
  // the Debian package that ships each (dpkg records /lib or /usr/lib).
  auto binary = docvault::testing::docvault_binary().string();
  auto ldd = run("/bin/sh", {"-c", "readelf -d '" + binary + "' | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p' | "
                                  "while read lib; do ldd '" + binary + "' | awk -v l=\"$lib\" '$1 == l {print $3}'; done"});
  ASSERT_EQ(ldd.exit_code, 0) << ldd.output;
  std::istringstream paths(ldd.output);
  int libraries = 0;
  for (std::string path; std::getline(paths, path);) {
    ASSERT_TRUE(path.starts_with("/")) << "unresolved library: " << path << "\n" << ldd.output;
    ++libraries;
    auto owner = run("/bin/sh", {"-c", "p=$(readlink -f '" + path + "'); dpkg -S \"$p\" 2>/dev/null || "
                                       "dpkg -S \"${p#/usr}\" 2>/dev/null || dpkg -S '" + path + "'"});
    ASSERT_EQ(owner.exit_code, 0) << "no Debian package ships " << path << ":\n" << owner.output;
    auto package = owner.output.substr(0, owner.output.find_first_of(":,"));
    // debian:bookworm-slim always has the C library and the GCC runtime.
    if (package == "libc6" || package == "libgcc-s1") continue;
    EXPECT_TRUE(packages.contains(package))
        << "docvault links " << path << " from " << package << ", which the Dockerfile's runtime stage does not install";
  }
  EXPECT_GE(libraries, 5) << ldd.output;
}

}  // namespace
}  // namespace docvault
