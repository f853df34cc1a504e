// Fuzzes the streaming multipart/form-data parser (http/multipart.h) alone.
// The input's first line is a Content-Type whose boundary boundary_of()
// extracts (a missing or invalid one falls back to "b0undary"); its second
// byte picks how the rest is cut into pieces. The rest is the body.
//
// Checked: no crash, leak or UB; the events (part headers, data, part ends)
// and the outcome are the same whether the body arrives whole, in pieces of
// the chosen size, or a byte at a time (the parser must not depend on where
// reads happen to end); a part's data never contains the delimiter; a parser
// that failed stays failed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/multipart.h"

namespace {

using docvault::fuzz::check;
using docvault::http::MultipartParser;
using docvault::http::PartHeaders;

struct Outcome {
  std::string events;
  bool fed = true;
  bool finished = false;
  MultipartParser::Error error = MultipartParser::Error::none;
  bool operator==(const Outcome&) const = default;
};

Outcome parse(const std::string& boundary, std::string_view body, std::size_t piece) {
  Outcome out;
  std::string data;  // the current part's data, joined
  const std::string delimiter = "\r\n--" + boundary;
  MultipartParser parser(boundary, {[&](const PartHeaders& part) {
                                      out.events += "part(" + part.name + "|" + part.filename.value_or("-") + "|" +
                                                    part.content_type + ")";
                                      data.clear();
                                      return true;
                                    },
                                    [&](std::string_view bytes) {
                                      check(!bytes.empty());
                                      data.append(bytes);
                                      return true;
                                    },
                                    [&] {
                                      check(data.find(delimiter) == std::string::npos);
                                      out.events += "data(" + data + ")end;";
                                      return true;
                                    }});
  for (std::size_t at = 0; at < body.size() && out.fed; at += piece) {
    out.fed = parser.feed(body.substr(at, piece));
  }
  out.finished = parser.finish();
  out.error = parser.error();
  if (!out.fed) {
    check(!out.finished);
    check(!parser.feed("more"));  // failed stays failed
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  auto eol = input.find('\n');
  if (eol == std::string_view::npos || eol + 2 > input.size()) return 0;
  auto content_type = input.substr(0, eol);
  if (!content_type.empty() && content_type.back() == '\r') content_type.remove_suffix(1);
  auto boundary = MultipartParser::boundary_of(content_type);
  if (boundary) check(!boundary->empty() && boundary->size() <= 70);
  const std::size_t piece = 1 + static_cast<unsigned char>(input[eol + 1]) % 97;
  auto body = input.substr(eol + 2);
  const std::string b = boundary.value_or("b0undary");
  auto whole = parse(b, body, body.size() + 1);
  check(parse(b, body, piece) == whole);
  if (body.size() <= 4096) check(parse(b, body, 1) == whole);
  return 0;
}
