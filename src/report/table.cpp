#include "table.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "normkit/error.hpp"

namespace normkit::report {

void Table::add(std::vector<std::string> row) {
  NORMKIT_CHECK(row.size() == header_.size(), "Table: a row of ", row.size(), " cells for ", header_.size(),
                " columns");
  rows_.push_back(std::move(row));
}

std::string Table::text() const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) {
    width[c] = header_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out += c == 0 ? cells[c] + std::string(width[c] - cells[c].size(), ' ')
                    : "  " + std::string(width[c] - cells[c].size(), ' ') + cells[c];
    }
    out += '\n';
  };
  line(header_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (const char ch : text) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

std::string Table::markdown() const {
  std::string out = "|";
  for (const auto& h : header_) out += " " + markdown_cell(h) + " |";
  out += "\n|";
  for (std::size_t c = 0; c < header_.size(); ++c) out += c == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& row : rows_) {
    out += "|";
    for (const auto& cell : row) out += " " + markdown_cell(cell) + " |";
    out += "\n";
  }
  return out;
}

void Table::write_csv(const std::string& path) const {
  std::ofstream csv(path);
  NORMKIT_CHECK(csv.good(), "cannot write ", path);
  const auto put = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c) csv << ',';
      if (cells[c].find_first_of(",\"") == std::string::npos) {
        csv << cells[c];
      } else {
        csv << '"';
        for (char ch : cells[c]) csv << (ch == '"' ? "\"\"" : std::string(1, ch));
        csv << '"';
      }
    }
    csv << '\n';
  };
  put(header_);
  for (const auto& row : rows_) put(row);
  NORMKIT_CHECK(csv.good(), "writing ", path, " failed");
}

std::string cell(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace normkit::report
