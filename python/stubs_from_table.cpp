// Writes the Python module's type stubs: the template
// (python/normkit/_normkit.pyi.in) with its "# @FUNCTIONAL_STUBS@" line
// replaced by a stub for every function of the op table, as the generic
// binder binds them (python/bind_functional.cpp). Run by the build:
//   normkit_stubs TEMPLATE OUTPUT
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "kernels/op_table.hpp"

namespace {

using normkit::ops::ArgKind;

std::string python_type(const normkit::ops::Arg& a) {
  switch (a.kind) {
    case ArgKind::tensor: return "Array";
    case ArgKind::optional_tensor:
    case ArgKind::updated_tensor: return "Optional[Array]";
    case ArgKind::shape: return "ShapeLike";
    case ArgKind::integer: return "int";
    case ArgKind::number: return "float";
    case ArgKind::optional_number: return "Optional[float]";
    case ArgKind::flag: return "bool";
  }
  return "object";
}

// "def name(a: T, ...) -> Tuple[...]: ..." ("-> Array" for one result),
// wrapped at 120 columns under the opening parenthesis.
std::string stub(const normkit::ops::Function& f) {
  std::vector<std::string> parts;
  for (const auto& a : f.args)
    parts.push_back(std::string(a.name) + ": " + python_type(a) + (a.default_number ? " = ..." : ""));
  std::string results;
  for (const auto& r : f.results) results += (results.empty() ? "" : ", ") + std::string(r.may_be_none ? "Optional[Array]" : "Array");
  parts.back() += f.results.size() == 1 ? ") -> " + results + ": ..." : ") -> Tuple[" + results + "]: ...";
  const std::string head = std::string("def ") + f.name + "(";
  std::string out = head, line = head;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string piece = parts[i] + (i + 1 < parts.size() ? "," : "");
    if (line.size() > head.size() && line.size() + 1 + piece.size() > 120) {
      out += "\n" + std::string(head.size(), ' ');
      line = std::string(head.size(), ' ');
    } else if (line.size() > head.size()) {
      out += " ";
      line += " ";
    }
    out += piece;
    line += piece;
  }
  return out + "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: normkit_stubs TEMPLATE OUTPUT\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  std::string stubs;
  for (const auto& op : normkit::ops::table()) stubs += stub(op.forward) + stub(op.backward);
  std::string result = text.str();
  const std::string marker = "# @FUNCTIONAL_STUBS@\n";
  const std::size_t at = result.find(marker);
  if (!in || at == std::string::npos) {
    std::fprintf(stderr, "normkit_stubs: %s: no line '# @FUNCTIONAL_STUBS@'\n", argv[1]);
    return 1;
  }
  result.replace(at, marker.size(), stubs);
  std::ofstream(argv[2]) << result;
  return 0;
}
