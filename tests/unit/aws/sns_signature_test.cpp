// SnsSignatureVerifier with a key pair and a self-signed certificate made in
// the test, served by a fake fetcher that records what was asked of it.
#include "aws/sns_signature.h"

#include <gtest/gtest.h>

#include "test_crypto.h"

namespace docvault::aws {
namespace {

using docvault::testing::sns_envelope;
using nlohmann::json;

const std::string kTopic = "arn:aws:sns:us-east-1:123456789012:epr-entity-events";
const std::string kCertUrl = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
const std::string kEvent = R"({"event_id":"e-1","source":"s","action":"entity.deleted","entity_id":"x","entity_type":"issuer"})";

class FakeFetcher final : public CertificateFetcher {
 public:
  std::string fetch(const std::string& url) override {
    ++fetches;
    last_url = url;
    if (fail) throw std::runtime_error("network down");
    return pem;
  }
  std::string pem;
  bool fail = false;
  int fetches = 0;
  std::string last_url;
};

class SnsSignatureTest : public ::testing::Test {
 protected:
  SnsSignatureTest() : key_(docvault::testing::generate_rsa()) {
    fetcher_->pem = docvault::testing::self_signed_certificate_pem(key_.get(), "sns.amazonaws.com");
  }
  std::optional<std::string> verify(const json& envelope) { return verifier_.verify(envelope.dump()); }

  docvault::testing::Pkey key_;
  std::shared_ptr<FakeFetcher> fetcher_ = std::make_shared<FakeFetcher>();
  SnsSignatureVerifier verifier_{fetcher_, SnsSignatureOptions{{kTopic}, 16}};
};

TEST_F(SnsSignatureTest, VersionOneAndTwoVerifyWithAndWithoutSubject) {
  EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 1)), std::nullopt);
  EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2)), std::nullopt);
  EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2, "entity deleted")), std::nullopt);
  // Fetched once, then cached.
  EXPECT_EQ(fetcher_->fetches, 1);
  EXPECT_EQ(fetcher_->last_url, kCertUrl);
}

TEST_F(SnsSignatureTest, AnyChangeToASignedFieldBreaksTheSignature) {
  for (const char* field : {"Message", "MessageId", "Timestamp", "Subject"}) {
    auto envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2, "subject");
    envelope[field] = envelope[field].get<std::string>() + "x";
    EXPECT_EQ(verify(envelope), "the signature does not verify") << field;
  }
  auto envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2);
  envelope["SignatureVersion"] = "1";  // the SHA-256 signature checked as SHA-1
  EXPECT_EQ(verify(envelope), "the signature does not verify");
  envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2, "subject");
  envelope.erase("Subject");
  EXPECT_EQ(verify(envelope), "the signature does not verify");
}

TEST_F(SnsSignatureTest, ASignatureByAnotherKeyFails) {
  auto other = docvault::testing::generate_rsa();
  EXPECT_EQ(verify(sns_envelope(other.get(), kTopic, kEvent, kCertUrl, 2)), "the signature does not verify");
}

TEST_F(SnsSignatureTest, TopicMustBeAllowed) {
  auto other_topic = "arn:aws:sns:us-east-1:123456789012:someone-else";
  EXPECT_EQ(verify(sns_envelope(key_.get(), other_topic, kEvent, kCertUrl, 2)), "TopicArn is not an allowed topic");
}

TEST_F(SnsSignatureTest, RawDeliveriesAndOtherTypesAreRefused) {
  EXPECT_NE(verifier_.verify(kEvent), std::nullopt);
  EXPECT_NE(verifier_.verify("not json"), std::nullopt);
  auto envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2);
  envelope["Type"] = "SubscriptionConfirmation";
  EXPECT_EQ(verify(envelope), "only Notification messages are accepted");
  envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2);
  envelope["SignatureVersion"] = "3";
  EXPECT_EQ(verify(envelope), "SignatureVersion must be 1 or 2");
  envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2);
  envelope["Signature"] = "@@not base64@@";
  EXPECT_EQ(verify(envelope), "Signature is not base64");
  envelope = sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2);
  envelope.erase("MessageId");
  EXPECT_EQ(verify(envelope), "a signed field is missing or not a string");
}

TEST_F(SnsSignatureTest, CertificateUrlMustBeAnAmazonSnsHttpsUrl) {
  for (std::string url : {"http://sns.us-east-1.amazonaws.com/cert.pem",
                          "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
                          "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
                          "https://user@sns.us-east-1.amazonaws.com/cert.pem",
                          "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
                          "https://sns.amazonaws.com/cert.pem",
                          "https://sqs.us-east-1.amazonaws.com/cert.pem",
                          "https://sns.us-east-1.amazonaws.com/cert.pem?x=1",
                          "https://sns.us-east-1.amazonaws.com/cert.txt",
                          "https://sns.US-EAST-1.amazonaws.com/cert.pem"}) {
    EXPECT_FALSE(SnsSignatureVerifier::is_signing_certificate_url(url)) << url;
    EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, url, 2)),
              "SigningCertURL is not an https URL on sns.<region>.amazonaws.com")
        << url;
  }
  EXPECT_EQ(fetcher_->fetches, 0);
  EXPECT_TRUE(SnsSignatureVerifier::is_signing_certificate_url(kCertUrl));
  EXPECT_TRUE(SnsSignatureVerifier::is_signing_certificate_url(
      "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem"));
}

TEST_F(SnsSignatureTest, FetchFailureThrowsAndIsNotCached) {
  fetcher_->fail = true;
  EXPECT_THROW(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2)), std::runtime_error);
  fetcher_->fail = false;
  EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2)), std::nullopt);
  EXPECT_EQ(fetcher_->fetches, 2);
}

TEST_F(SnsSignatureTest, GarbageCertificateIsRefused) {
  fetcher_->pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(verify(sns_envelope(key_.get(), kTopic, kEvent, kCertUrl, 2)),
            "the signing certificate is not a valid RSA certificate");
}

TEST(SnsStringToSignTest, IsTheDocumentedNameValueLines) {
  json envelope = {{"Type", "Notification"}, {"MessageId", "m"}, {"TopicArn", "t"}, {"Message", "hello\nworld"},
                   {"Timestamp", "ts"}, {"Subject", "s"}, {"Signature", "ignored"}};
  EXPECT_EQ(sns_string_to_sign(envelope.dump()),
            "Message\nhello\nworld\nMessageId\nm\nSubject\ns\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n");
}

}  // namespace
}  // namespace docvault::aws
