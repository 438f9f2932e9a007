#include "seeds.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "normkit/error.hpp"
#include "report/gnuplot.hpp"
#include "report/table.hpp"
#include "statistics.hpp"

namespace normkit::lab {
namespace {

// The placeholders a run's texts hold for what only the merge knows: a
// claim's verdict and a plot's Markdown. They are the same in every seed.
std::string claim_marker(std::size_t i) { return "@@claim " + std::to_string(i) + "@@"; }
std::string plot_marker(std::size_t i) { return "@@plot " + std::to_string(i) + "@@\n\n"; }

// A text cut at its numbers: text[0] number[0] text[1] ... text[n]. A number
// is a decimal ("12", "-0.25", "+1.5", "1e-3") that does not continue a word
// or another number ("L2", "784-100" keep their digits as text); a factor's
// "x" before it is text ("x1.25").
struct Cut {
  std::vector<std::string> text, number;
};

bool starts_number(const std::string& s, std::size_t i) {
  const auto digit = [&](std::size_t j) { return j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])); };
  const char before = i == 0 ? ' ' : s[i - 1];
  const bool factor = before == 'x' && (i < 2 || !std::isalnum(static_cast<unsigned char>(s[i - 2])));
  if (!factor && (std::isalnum(static_cast<unsigned char>(before)) || before == '.' || before == '_' || before == '-' ||
                  before == '+'))
    return false;
  return digit(i) || ((s[i] == '-' || s[i] == '+') && digit(i + 1));
}

Cut cut(const std::string& s) {
  Cut c;
  c.text.emplace_back();
  std::size_t i = 0;
  while (i < s.size()) {
    if (!starts_number(s, i)) {
      c.text.back() += s[i++];
      continue;
    }
    const std::size_t start = i;
    const auto digits = [&] {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    };
    if (s[i] == '-' || s[i] == '+') ++i;
    digits();
    if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) ++i, digits();
    if (i + 1 < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      std::size_t j = i + 1;
      if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
      if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) i = j, digits();
    }
    c.number.push_back(s.substr(start, i - start));
    c.text.emplace_back();
  }
  return c;
}

// Mean ± half-width with the precision the seeds printed it (the most
// decimals any seed's text has), and at least enough decimals for the
// half-width's first significant digit: seeds that printed 0.1, 0.1, 0.1,
// 0.03 and 0.1 give "0.09 ± 0.04", not "0.1 ± 0.0". With a sign when
// `signed_text` (the seeds wrote "+0.5").
std::string interval_text(const std::vector<double>& values, const std::vector<std::string>& texts, bool signed_text) {
  const Interval interval = t_interval(values);
  char format[16];
  if (std::any_of(texts.begin(), texts.end(), [](const std::string& t) { return t.find_first_of("eE") != std::string::npos; })) {
    std::snprintf(format, sizeof format, "%%.2e");
  } else {
    int decimals = 0;
    for (const std::string& t : texts) {
      const std::size_t dot = t.find('.');
      if (dot != std::string::npos) decimals = std::max(decimals, static_cast<int>(t.size() - dot - 1));
    }
    const double hw = interval.half_width;
    while (std::isfinite(hw) && hw > 0 && decimals < 8 && hw * std::pow(10.0, decimals) < 0.5) ++decimals;
    std::snprintf(format, sizeof format, "%%.%df", decimals);
  }
  std::string text = interval.text(format);
  if (signed_text && interval.mean >= 0) text = "+" + text;  // a signed difference keeps its sign
  return text;
}

std::string joined(const std::vector<std::string>& parts, const std::string& by) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? by : "") + parts[i];
  return out;
}

// One field (a cell, a line) from the seeds' versions of it.
std::string merge_field(const std::vector<std::string>& fields) {
  if (std::all_of(fields.begin(), fields.end(), [&](const std::string& f) { return f == fields[0]; }))
    return fields[0];
  std::vector<Cut> cuts;
  for (const std::string& f : fields) cuts.push_back(cut(f));
  const bool same_shape = std::all_of(cuts.begin(), cuts.end(), [&](const Cut& c) { return c.text == cuts[0].text; });
  if (!same_shape) {
    // The seeds' fields without their padding, inside the first one's.
    std::vector<std::string> trimmed;
    for (const std::string& f : fields) {
      const std::size_t a = f.find_first_not_of(' '), b = f.find_last_not_of(' ');
      trimmed.push_back(a == std::string::npos ? f : f.substr(a, b - a + 1));
    }
    const std::size_t lead = std::min(fields[0].find_first_not_of(' '), fields[0].size());
    const std::size_t trail = fields[0].size() - std::min(fields[0].size(), fields[0].find_last_not_of(' ') + 1);
    return std::string(lead, ' ') + joined(trimmed, " / ") + std::string(trail, ' ');
  }
  std::string out = cuts[0].text[0];
  for (std::size_t slot = 0; slot < cuts[0].number.size(); ++slot) {
    std::vector<double> values;
    std::vector<std::string> texts;
    bool same = true, signed_text = false;
    for (const Cut& c : cuts) {
      values.push_back(std::strtod(c.number[slot].c_str(), nullptr));
      texts.push_back(c.number[slot]);
      same = same && c.number[slot] == cuts[0].number[slot];
      signed_text = signed_text || c.number[slot][0] == '+';
    }
    out += same ? cuts[0].number[slot] : interval_text(values, texts, signed_text);
    out += cuts[0].text[slot + 1];
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A printed line's fields: separated by two or more spaces.
std::vector<std::string> printed_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t gap = line.find("  ", i);
    if (gap == std::string::npos) gap = line.size();
    if (gap > i) fields.push_back(line.substr(i, gap - i));
    i = line.find_first_not_of(' ', gap);
    if (i == std::string::npos) break;
  }
  if (fields.empty()) fields.emplace_back();
  return fields;
}

// A Markdown table row's cells, the pipes kept out ("| a | b |" -> " a ", " b ").
std::vector<std::string> markdown_cells(const std::string& line) {
  std::vector<std::string> cells{""};
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|' && line[i - 1] != '\\') cells.emplace_back();
    else cells.back() += line[i];
  }
  cells.pop_back();  // after the closing pipe
  return cells;
}

// Characters on a terminal: UTF-8 continuation bytes take no column ("±").
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
}

// Pads the columns of each run of lines of two or more fields (a table):
// the first left-aligned, the others right-aligned (report::Table). A row
// with fewer fields than the others had empty cells at its end.
std::string realign(std::vector<std::vector<std::string>> rows) {
  std::string out;
  for (std::size_t start = 0; start < rows.size();) {
    std::size_t end = start + 1, n = rows[start].size();
    if (n >= 2)
      while (end < rows.size() && rows[end].size() >= 2) n = std::max(n, rows[end++].size());
    for (std::size_t r = start; r < end; ++r) rows[r].resize(n);
    std::vector<std::size_t> width(n, 0);
    for (std::size_t r = start; r < end; ++r)
      for (std::size_t c = 0; c < n; ++c) width[c] = std::max(width[c], display_width(rows[r][c]));
    for (std::size_t r = start; r < end; ++r) {
      std::string line;
      for (std::size_t c = 0; c < n; ++c) {
        const std::string& f = rows[r][c];
        if (n == 1) line = f;
        else if (c == 0) line += f + std::string(width[c] - display_width(f), ' ');
        else line += "  " + std::string(width[c] - display_width(f), ' ') + f;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    start = end;
  }
  return out;
}

}  // namespace

std::string Section::claim(const std::string& title, double difference) {
  claims.push_back({title, difference});
  return claim_marker(claims.size() - 1);
}

std::string Section::plot(const std::string& name, const std::string& png_file, const std::string& script_path,
                          const std::string& script) {
  plots.push_back({name, png_file, script_path, script});
  return plot_marker(plots.size() - 1);
}

std::string merge_texts(const std::vector<std::string>& texts, bool printed) {
  NORMKIT_CHECK(!texts.empty(), "merge_texts: no texts");
  std::vector<std::vector<std::string>> lines;
  for (const std::string& t : texts) lines.push_back(lines_of(t));
  const bool same_lines = std::all_of(lines.begin(), lines.end(), [&](const auto& l) { return l.size() == lines[0].size(); });
  if (!same_lines) {
    // Shapes that do not line up (a seed's list is longer): every seed's text.
    std::string out = "(the seeds' texts differ in shape: each seed's follows)\n\n";
    for (std::size_t s = 0; s < texts.size(); ++s) out += "seed run " + std::to_string(s + 1) + ":\n\n" + texts[s] + "\n";
    return out;
  }
  std::vector<std::vector<std::string>> merged_rows;
  std::string out;
  for (std::size_t i = 0; i < lines[0].size(); ++i) {
    std::vector<std::vector<std::string>> fields;
    const bool table_row = !printed && !lines[0][i].empty() && lines[0][i][0] == '|';
    for (const auto& l : lines)
      fields.push_back(printed ? printed_fields(l[i]) : table_row ? markdown_cells(l[i]) : std::vector<std::string>{l[i]});
    const bool same_fields =
        std::all_of(fields.begin(), fields.end(), [&](const auto& f) { return f.size() == fields[0].size(); });
    std::vector<std::string> row;
    if (!same_fields) {
      std::vector<std::string> whole;
      for (const auto& l : lines) whole.push_back(l[i]);
      row.push_back(merge_field(whole));
    } else {
      for (std::size_t f = 0; f < fields[0].size(); ++f) {
        std::vector<std::string> one;
        for (const auto& seed : fields) one.push_back(seed[f]);
        row.push_back(merge_field(one));
      }
    }
    if (printed) {
      merged_rows.push_back(row);
    } else if (table_row && same_fields) {
      out += "|" + joined(row, "|") + "|\n";
    } else {
      out += row[0] + "\n";
    }
  }
  if (printed) return realign(merged_rows);
  // lines_of drops the last line's newline only when there was none.
  if (!texts[0].empty() && texts[0].back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

namespace {

using CsvRows = std::vector<std::vector<std::string>>;

CsvRows read_csv(const std::string& path) {
  std::ifstream in(path);
  NORMKIT_CHECK(in.good(), "cannot read ", path);
  CsvRows rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells{""};
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char ch = line[i];
      if (quoted && ch == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += '"', ++i;
      else if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) cells.emplace_back();
      else cells.back() += ch;
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

bool is_number(const std::string& cell, double& value) {
  if (cell.empty()) return false;
  char* end = nullptr;
  value = std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size() && std::isfinite(value);
}

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", v);
  return text;
}

// The merged row (means, then each column's low and high) of one row's
// versions in some of the seeds.
std::vector<std::string> merge_row(const std::vector<const std::vector<std::string>*>& versions) {
  const std::size_t n = versions[0]->size();
  std::vector<std::string> row(n), bounds(2 * n);
  for (std::size_t c = 0; c < n; ++c) {
    std::vector<double> values;
    std::vector<std::string> cells;
    for (const auto* v : versions) {
      double x = 0;
      cells.push_back((*v)[c]);
      if (is_number((*v)[c], x)) values.push_back(x);
    }
    const bool same = std::all_of(cells.begin(), cells.end(), [&](const std::string& s) { return s == cells[0]; });
    if (values.size() != cells.size()) {
      row[c] = same ? cells[0] : joined(cells, " / ");
      continue;
    }
    if (same || values.size() == 1) {
      row[c] = cells[0];
      bounds[2 * c] = bounds[2 * c + 1] = cells[0];
      continue;
    }
    const Interval interval = t_interval(values);
    row[c] = number_text(interval.mean);
    bounds[2 * c] = number_text(interval.low());
    bounds[2 * c + 1] = number_text(interval.high());
  }
  row.insert(row.end(), bounds.begin(), bounds.end());
  return row;
}

// A row's identity across seeds whose runs have different row counts: its
// first cell and every cell that is not a number.
std::string row_key(const std::vector<std::string>& row) {
  std::string key = row.empty() ? "" : row[0];
  double x = 0;
  for (std::size_t c = 1; c < row.size(); ++c) key += "\x1f" + (is_number(row[c], x) ? std::string() : row[c]);
  return key;
}

void merge_csv_file(const std::vector<std::string>& seed_dirs, const std::vector<std::uint64_t>& seeds,
                    const std::string& file, const std::string& out_dir) {
  std::vector<CsvRows> tables;
  for (const std::string& dir : seed_dirs) {
    tables.push_back(read_csv(dir + "/" + file));
    NORMKIT_CHECK(!tables.back().empty() && tables.back()[0] == tables[0][0], file, ": the seeds' headers differ");
    for (const auto& row : tables.back())
      NORMKIT_CHECK(row.size() == tables[0][0].size(), file, ": a row of ", row.size(), " cells for ",
                    tables[0][0].size(), " columns");
  }
  const std::vector<std::string>& header = tables[0][0];
  const std::string stem = file.substr(0, file.size() - 4);

  std::vector<std::string> seed_header{"seed"};
  seed_header.insert(seed_header.end(), header.begin(), header.end());
  report::Table per_seed(seed_header);
  for (std::size_t s = 0; s < tables.size(); ++s)
    for (std::size_t r = 1; r < tables[s].size(); ++r) {
      std::vector<std::string> row{std::to_string(seeds[s])};
      row.insert(row.end(), tables[s][r].begin(), tables[s][r].end());
      per_seed.add(std::move(row));
    }
  per_seed.write_csv(out_dir + "/" + stem + "_seeds.csv");

  std::vector<std::string> merged_header = header;
  for (const std::string& h : header) merged_header.push_back(h + "_low"), merged_header.push_back(h + "_high");
  report::Table merged(merged_header);
  const bool by_position =
      std::all_of(tables.begin(), tables.end(), [&](const CsvRows& t) { return t.size() == tables[0].size(); });
  if (by_position) {
    for (std::size_t r = 1; r < tables[0].size(); ++r) {
      std::vector<const std::vector<std::string>*> versions;
      for (const CsvRows& t : tables) versions.push_back(&t[r]);
      merged.add(merge_row(versions));
    }
  } else {
    std::vector<std::string> order;
    std::map<std::string, std::vector<const std::vector<std::string>*>> groups;
    for (const CsvRows& t : tables)
      for (std::size_t r = 1; r < t.size(); ++r) {
        const std::string key = row_key(t[r]);
        if (!groups.count(key)) order.push_back(key);
        groups[key].push_back(&t[r]);
      }
    for (const std::string& key : order) merged.add(merge_row(groups[key]));
  }
  merged.write_csv(out_dir + "/" + file);
}

}  // namespace

void merge_csv_files(const std::vector<std::string>& seed_dirs, const std::vector<std::uint64_t>& seeds,
                     const std::string& out_dir) {
  NORMKIT_CHECK(!seed_dirs.empty() && seed_dirs.size() == seeds.size(), "merge_csv_files: expected a seed per folder");
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(seed_dirs[0]))
    if (entry.path().extension() == ".csv") files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) merge_csv_file(seed_dirs, seeds, file, out_dir);
}

std::string interval_columns(std::size_t columns, std::size_t column) {
  return std::to_string(columns + 2 * column - 1) + ":" + std::to_string(columns + 2 * column);
}

std::string mean_and_interval(const std::string& file, std::size_t columns, std::size_t x, std::size_t y,
                              const std::string& when, const std::string& title, int color, double scale) {
  const std::string at_x = "(" + when + " ? $" + std::to_string(x) + " : 1/0)";
  const auto scaled = [&](std::size_t column) {
    char text[64];
    std::snprintf(text, sizeof text, "($%zu * %g)", column, scale);
    return std::string(text);
  };
  const std::string colour = " lc " + std::to_string(color);
  return "'" + file + "' using " + at_x + ":" + scaled(columns + 2 * y - 1) + ":" + scaled(columns + 2 * y) +
         " with filledcurves fs transparent solid 0.2 noborder" + colour + " notitle, '" + file + "' using " + at_x +
         ":" + scaled(y) + " with linespoints lw 2 pt 7 ps 0.5" + colour + " title '" + title + "'";
}

Section merge_sections(const std::vector<Section>& runs) {
  NORMKIT_CHECK(!runs.empty(), "merge_sections: no runs");
  Section merged;
  for (const Section& r : runs)
    NORMKIT_CHECK(r.claims.size() == runs[0].claims.size() && r.plots.size() == runs[0].plots.size(),
                  "merge_sections: the seeds' runs made different claims or plots");
  merged.claims = runs[0].claims;
  std::vector<std::string> markdowns, printeds;
  for (const Section& r : runs) markdowns.push_back(r.markdown), printeds.push_back(r.printed);
  merged.markdown = merge_texts(markdowns, false);
  merged.printed = merge_texts(printeds, true);
  const auto replace = [&](const std::string& marker, const std::string& with) {
    for (std::string* text : {&merged.markdown, &merged.printed})
      for (std::size_t at = text->find(marker); at != std::string::npos; at = text->find(marker, at + with.size()))
        text->replace(at, marker.size(), with);
  };
  for (std::size_t c = 0; c < runs[0].claims.size(); ++c) {
    std::vector<double> values;
    for (const Section& r : runs) values.push_back(r.claims[c].value);
    Claim& claim = merged.claims[c];
    const Interval interval = t_interval(values);
    claim.value = interval.mean;
    const Finding finding = judge(interval, true);
    claim.verdict = finding == Finding::agrees ? "agrees" : finding == Finding::disagrees ? "disagrees" : "inconclusive";
    const std::string marker = claim_marker(c);
    const std::size_t at = merged.markdown.find(marker);
    if (at != std::string::npos) {
      const std::size_t from = at + marker.size(), to = merged.markdown.find("\n\n", from);
      claim.measured = merged.markdown.substr(from, to == std::string::npos ? std::string::npos : to - from);
    }
    replace(marker, verdict_head(finding, static_cast<std::int64_t>(values.size())));
  }
  for (std::size_t p = 0; p < runs[0].plots.size(); ++p) {
    const Plot& plot = runs[0].plots[p];
    const std::string failure = report::run_gnuplot(plot.script_path, plot.script);
    replace(plot_marker(p), report::plot_markdown(plot.name, plot.png_file, failure));
  }
  return merged;
}

std::string section_to_json(const Section& section) {
  nlohmann::json plots = nlohmann::json::array();
  for (const Plot& p : section.plots)
    plots.push_back({{"name", p.name}, {"png_file", p.png_file}, {"script_path", p.script_path}, {"script", p.script}});
  // JSON has no NaN (a claim about a run that diverged): null stands for it.
  nlohmann::json claims = nlohmann::json::array();
  for (const Claim& c : section.claims)
    claims.push_back({{"title", c.title}, {"value", std::isfinite(c.value) ? nlohmann::json(c.value) : nlohmann::json()}});
  return nlohmann::json{{"markdown", section.markdown},
                        {"printed", section.printed},
                        {"claims", claims},
                        {"plots", plots}}
      .dump();
}

Section section_from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  Section s;
  s.markdown = j.at("markdown").get<std::string>();
  s.printed = j.at("printed").get<std::string>();
  for (const auto& c : j.at("claims"))
    s.claims.push_back({c.at("title").get<std::string>(),
                        c.at("value").is_null() ? std::nan("") : c.at("value").get<double>()});
  for (const auto& p : j.at("plots"))
    s.plots.push_back({p.at("name").get<std::string>(), p.at("png_file").get<std::string>(),
                       p.at("script_path").get<std::string>(), p.at("script").get<std::string>()});
  return s;
}

}  // namespace normkit::lab
