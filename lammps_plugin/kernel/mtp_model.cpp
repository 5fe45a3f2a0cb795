// Parser for MLIP-2 `.mtp` files (format: docs/mtp-formats.md).
//
// The file is a header (`MTP`, `version = 1.1.0`) followed by `key = value` lines,
// the radial coefficient block and brace lists. The parser is strict: an unknown key,
// a count that disagrees with its list, or an index out of range is an error that
// names the line, because a silently misread potential gives plausible wrong physics.
#include "mtp_model.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace seimd {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

class LineReader {
 public:
  LineReader(const std::string& text, std::string source) : source_(std::move(source)) {
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(line);
    }
  }
  bool done() const { return pos_ >= lines_.size(); }
  const std::string& peek() const { return lines_[pos_]; }
  const std::string& next() { return lines_[pos_++]; }
  int line_number() const { return static_cast<int>(pos_); }  // 1-based number of the last line read
  [[noreturn]] void fail(const std::string& what) const {
    throw MtpError(source_ + ":" + std::to_string(line_number()) + ": " + what);
  }
  const std::string& source() const { return source_; }

 private:
  std::vector<std::string> lines_;
  size_t pos_ = 0;
  std::string source_;
};

double to_double(const std::string& s, const LineReader& in) {
  const std::string t = trim(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    in.fail("expected a finite number, got '" + t + "'");
  return v;
}

int to_int(const std::string& s, const LineReader& in) {
  const std::string t = trim(s);
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno == ERANGE || v < -2147483647L || v > 2147483647L)
    in.fail("expected an integer, got '" + t + "'");
  return static_cast<int>(v);
}

// The items of a `{a, b, {c, d}}` list, flattened, in order.
std::vector<std::string> brace_items(const std::string& value, const LineReader& in) {
  const std::string v = trim(value);
  if (v.empty() || v.front() != '{' || v.back() != '}') in.fail("expected a {...} list");
  std::vector<std::string> items;
  std::string cur;
  int depth = 0;
  for (char ch : v) {
    if (ch == '{') {
      ++depth;
    } else if (ch == '}') {
      if (--depth < 0) in.fail("unbalanced braces");
    }
    if (ch == '{' || ch == '}' || ch == ',') {
      if (!trim(cur).empty()) items.push_back(trim(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (depth != 0) in.fail("unbalanced braces");
  return items;
}

std::vector<double> double_list(const std::string& value, const LineReader& in) {
  std::vector<double> out;
  for (const auto& item : brace_items(value, in)) out.push_back(to_double(item, in));
  return out;
}

std::vector<std::array<int, 4>> quad_list(const std::string& value, const LineReader& in) {
  const auto items = brace_items(value, in);
  if (items.size() % 4 != 0) in.fail("expected groups of 4 integers");
  std::vector<std::array<int, 4>> out(items.size() / 4);
  for (size_t n = 0; n < items.size(); ++n) out[n / 4][n % 4] = to_int(items[n], in);
  return out;
}

void check_count(const char* key, int declared, size_t actual, const LineReader& in) {
  if (declared < 0 || static_cast<size_t>(declared) != actual)
    in.fail(std::string(key) + " has " + std::to_string(actual) + " entries but its count says " +
            std::to_string(declared));
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw MtpError("cannot open potential file '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

MtpModel read_mtp_file(const std::string& path) { return parse_mtp(read_text_file(path), path); }

std::vector<std::string> MtpModel::elements() const {
  std::vector<std::string> out;
  std::istringstream tokens(potential_tag);
  std::string tok;
  while (tokens >> tok) {
    if (tok.rfind("elements:", 0) != 0) continue;
    std::string list = tok.substr(9), sym;
    std::istringstream syms(list);
    while (std::getline(syms, sym, ',')) out.push_back(trim(sym));
  }
  return out;
}

int MtpModel::parameter_count() const {
  return radial_funcs_count * radial_basis_size * species_count * species_count + species_count +
         static_cast<int>(alpha_moment_mapping.size());
}

MtpModel parse_mtp(const std::string& text, const std::string& source) {
  LineReader in(text, source);
  MtpModel m;
  auto next_nonblank = [&]() -> std::string {
    while (!in.done()) {
      std::string t = trim(in.next());
      if (!t.empty()) return t;
    }
    return "";
  };
  if (next_nonblank() != "MTP") in.fail("not an MTP file: the first line must be 'MTP'");
  {
    const std::string v = next_nonblank();
    const auto eq = v.find('=');
    if (eq == std::string::npos || trim(v.substr(0, eq)) != "version" ||
        trim(v.substr(eq + 1)) != "1.1.0")
      in.fail("unsupported header '" + v + "': expected 'version = 1.1.0'");
  }

  int basic_count = -1, times_count = -1, scalar_count = -1;
  bool seen_basis_type = false, seen_species = false, seen_min = false, seen_max = false;
  bool seen_rsize = false, seen_rcount = false, seen_moments = false;
  while (!in.done()) {
    const std::string raw = in.next();
    const std::string line = trim(raw);
    if (line.empty()) continue;
    if (line == "radial_coeffs") {
      if (!seen_species || !seen_rsize || !seen_rcount)
        in.fail("radial_coeffs before species_count, radial_basis_size and radial_funcs_count");
      const int C = m.species_count, K = m.radial_funcs_count, R = m.radial_basis_size;
      m.radial_coeffs.assign(static_cast<size_t>(C) * C * K * R, 0.0);
      for (int s1 = 0; s1 < C; ++s1)
        for (int s2 = 0; s2 < C; ++s2) {
          const std::string want = std::to_string(s1) + "-" + std::to_string(s2);
          if (in.done()) in.fail("radial_coeffs ends before pair " + want);
          const std::string label = trim(in.next());
          if (label != want) in.fail("expected radial pair label '" + want + "', got '" + label + "'");
          for (int mu = 0; mu < K; ++mu) {
            if (in.done()) in.fail("radial_coeffs ends inside pair " + want);
            const auto row = double_list(in.next(), in);
            if (static_cast<int>(row.size()) != R)
              in.fail("radial function " + std::to_string(mu) + " of pair " + want + " has " +
                      std::to_string(row.size()) + " coefficients, radial_basis_size is " +
                      std::to_string(R));
            for (int xi = 0; xi < R; ++xi)
              m.radial_coeffs[((static_cast<size_t>(s1) * C + s2) * K + mu) * R + xi] = row[xi];
          }
        }
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) in.fail("expected 'key = value', got '" + line + "'");
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "potential_name") {
      m.potential_name = value;
    } else if (key == "scaling") {
      // An indented `scaling` after radial_basis_type belongs to the radial basis.
      if (seen_basis_type) {
        m.radial_scaling = to_double(value, in);
        m.has_radial_scaling = true;
      } else {
        m.scaling = to_double(value, in);
      }
    } else if (key == "species_count") {
      m.species_count = to_int(value, in);
      if (m.species_count < 1) in.fail("species_count must be at least 1");
      seen_species = true;
    } else if (key == "potential_tag") {
      m.potential_tag = value;
    } else if (key == "radial_basis_type") {
      m.radial_basis_type = value;
      if (value != "RBChebyshev")
        in.fail("radial_basis_type '" + value + "' is not supported (only RBChebyshev)");
      seen_basis_type = true;
    } else if (key == "min_dist") {
      m.min_dist = to_double(value, in);
      seen_min = true;
    } else if (key == "max_dist") {
      m.max_dist = to_double(value, in);
      seen_max = true;
    } else if (key == "radial_basis_size") {
      m.radial_basis_size = to_int(value, in);
      if (m.radial_basis_size < 2) in.fail("radial_basis_size must be at least 2");
      seen_rsize = true;
    } else if (key == "radial_funcs_count") {
      m.radial_funcs_count = to_int(value, in);
      if (m.radial_funcs_count < 1) in.fail("radial_funcs_count must be at least 1");
      seen_rcount = true;
    } else if (key == "alpha_moments_count") {
      m.alpha_moments_count = to_int(value, in);
      if (m.alpha_moments_count < 1) in.fail("alpha_moments_count must be at least 1");
      seen_moments = true;
    } else if (key == "alpha_index_basic_count") {
      basic_count = to_int(value, in);
    } else if (key == "alpha_index_basic") {
      m.alpha_index_basic = quad_list(value, in);
      check_count("alpha_index_basic", basic_count, m.alpha_index_basic.size(), in);
      for (const auto& b : m.alpha_index_basic) {
        if (b[0] < 0 || b[0] >= m.radial_funcs_count)
          in.fail("alpha_index_basic uses radial function " + std::to_string(b[0]) +
                  " but radial_funcs_count is " + std::to_string(m.radial_funcs_count));
        if (b[1] < 0 || b[2] < 0 || b[3] < 0) in.fail("alpha_index_basic has a negative power");
      }
    } else if (key == "alpha_index_times_count") {
      times_count = to_int(value, in);
    } else if (key == "alpha_index_times") {
      m.alpha_index_times = quad_list(value, in);
      check_count("alpha_index_times", times_count, m.alpha_index_times.size(), in);
      for (const auto& t : m.alpha_index_times)
        for (int q : {0, 1, 3})
          if (t[q] < 0 || t[q] >= m.alpha_moments_count)
            in.fail("alpha_index_times refers to moment " + std::to_string(t[q]) +
                    " outside 0.." + std::to_string(m.alpha_moments_count - 1));
    } else if (key == "alpha_scalar_moments") {
      scalar_count = to_int(value, in);
    } else if (key == "alpha_moment_mapping") {
      for (const auto& item : brace_items(value, in)) m.alpha_moment_mapping.push_back(to_int(item, in));
      check_count("alpha_moment_mapping", scalar_count, m.alpha_moment_mapping.size(), in);
      for (int s : m.alpha_moment_mapping)
        if (s < 0 || s >= m.alpha_moments_count)
          in.fail("alpha_moment_mapping refers to moment " + std::to_string(s) + " outside 0.." +
                  std::to_string(m.alpha_moments_count - 1));
    } else if (key == "species_coeffs") {
      m.species_coeffs = double_list(value, in);
      check_count("species_coeffs", m.species_count, m.species_coeffs.size(), in);
    } else if (key == "moment_coeffs") {
      m.moment_coeffs = double_list(value, in);
      check_count("moment_coeffs", scalar_count, m.moment_coeffs.size(), in);
    } else {
      in.fail("unknown key '" + key + "'");
    }
  }

  auto require = [&](bool seen, const char* key) {
    if (!seen) throw MtpError(source + ": required key '" + std::string(key) + "' is missing");
  };
  require(seen_species, "species_count");
  require(seen_basis_type, "radial_basis_type");
  require(seen_min, "min_dist");
  require(seen_max, "max_dist");
  require(seen_rsize, "radial_basis_size");
  require(seen_rcount, "radial_funcs_count");
  require(seen_moments, "alpha_moments_count");
  require(!m.alpha_index_basic.empty(), "alpha_index_basic");
  require(!m.alpha_moment_mapping.empty(), "alpha_moment_mapping");
  if (!(m.max_dist > m.min_dist) || m.min_dist < 0.0)
    throw MtpError(source + ": need 0 <= min_dist < max_dist, got min_dist = " +
                   std::to_string(m.min_dist) + ", max_dist = " + std::to_string(m.max_dist));
  if (static_cast<int>(m.alpha_index_basic.size()) > m.alpha_moments_count)
    throw MtpError(source + ": more basic moments than alpha_moments_count");
  const bool has_radial = !m.radial_coeffs.empty(), has_species = !m.species_coeffs.empty(),
             has_moment = !m.moment_coeffs.empty();
  if (has_radial != has_moment || has_species != has_moment)
    throw MtpError(source +
                   ": a trained potential needs radial_coeffs, species_coeffs and moment_coeffs "
                   "together (an untrained template has none of them)");
  const auto elems = m.elements();
  if (!elems.empty() && static_cast<int>(elems.size()) != m.species_count)
    throw MtpError(source + ": potential_tag declares " + std::to_string(elems.size()) +
                   " elements for " + std::to_string(m.species_count) + " species");
  return m;
}

}  // namespace seimd
