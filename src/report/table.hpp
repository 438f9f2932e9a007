// A table of text cells, written as aligned plain text (for the terminal),
// as Markdown (for the report) and as CSV (for plotting and other tools).
#pragma once

#include <string>
#include <vector>

namespace normkit::report {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // A row of exactly as many cells as the header has.
  void add(std::vector<std::string> row);

  std::string text() const;      // columns padded to their widest cell
  std::string markdown() const;  // a GitHub-flavoured pipe table
  // Writes the CSV file (cells with a comma or quote are quoted); an Error
  // naming the path when it cannot be written.
  void write_csv(const std::string& path) const;

  std::size_t rows() const { return rows_.size(); }
  std::size_t columns() const { return header_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// `text` for a Markdown table cell: a pipe ("||w||") escaped, as it would end the cell.
std::string markdown_cell(const std::string& text);

// printf-style formatting of one cell ("%.4f", ...).
std::string cell(const char* format, double value);

}  // namespace normkit::report
