#include "libseq/io/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace strand::io {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/// Pixel coordinates and lengths with two decimals.
std::string px(double v) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  return buffer;
}

/// A step of 1, 2 or 5 x 10^k giving about `target` intervals over [lo, hi].
double nice_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(target, 1);
  if (!std::isfinite(raw) || raw <= 0) return 1.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * magnitude;
}

/// The multiples of `step` inside [lo, hi] (with a little slack for rounding).
std::vector<double> multiples(double lo, double hi, double step) {
  std::vector<double> out;
  if (!(std::abs(lo / step) < 1e15 && std::abs(hi / step) < 1e15)) return out;  // no ticks for absurd ranges
  const double slack = 1e-9;
  const auto first = static_cast<long long>(std::ceil(lo / step - slack));
  const auto last = static_cast<long long>(std::floor(hi / step + slack));
  for (long long k = first; k <= last && out.size() < 1000; ++k) out.push_back(static_cast<double>(k) * step);
  return out;
}

/// A tick label with as many decimals as the step needs.
std::string tick_label(double v, double step) {
  char buffer[48];
  if (std::abs(v) >= 1e7 || step < 1e-9) {
    std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  } else {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12);
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, v);
  }
  return buffer;
}

struct Axis {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
  double step = 0.2;
};

/// Axis range and ticks from the fixed bounds and the finite data values.
Axis make_axis(const std::optional<double>& fixed_lo, const std::optional<double>& fixed_hi,
               const std::vector<double>& values, const char* name) {
  STRAND_CHECK(!fixed_lo || std::isfinite(*fixed_lo), "svg chart: the ", name, " minimum is not finite");
  STRAND_CHECK(!fixed_hi || std::isfinite(*fixed_hi), "svg chart: the ", name, " maximum is not finite");
  double lo = 0;
  double hi = 1;
  if (!values.empty()) {
    lo = *std::min_element(values.begin(), values.end());
    hi = *std::max_element(values.begin(), values.end());
  }
  if (fixed_lo) lo = *fixed_lo;
  if (fixed_hi) hi = *fixed_hi;
  if (fixed_lo && fixed_hi)
    STRAND_CHECK(lo < hi, "svg chart: the ", name, " minimum ", lo, " is not below the maximum ", hi);
  if (!(lo < hi)) {  // one value, or a fixed bound on the wrong side of the data
    if (fixed_lo) {
      hi = lo + 1;
    } else if (fixed_hi) {
      lo = hi - 1;
    } else {
      lo -= 0.5;
      hi += 0.5;
    }
  }
  Axis a;
  a.step = nice_step(lo, hi, 5);
  a.lo = fixed_lo ? lo : std::floor(lo / a.step) * a.step;
  a.hi = fixed_hi ? hi : std::ceil(hi / a.step) * a.step;
  a.ticks = multiples(a.lo, a.hi, a.step);
  return a;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  STRAND_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "nice_ticks: need finite lo < hi, got ", lo, ", ",
               hi);
  const double step = nice_step(lo, hi, target);
  return multiples(std::floor(lo / step) * step, std::ceil(hi / step) * step, step);
}

std::string svg_line_chart(const Chart& chart) {
  STRAND_CHECK(chart.width >= 200 && chart.height >= 150, "svg chart: the canvas must be at least 200 x 150 pixels, got ",
               chart.width, " x ", chart.height);
  std::vector<double> xs;
  std::vector<double> ys;
  for (const ChartSeries& s : chart.series)
    for (const auto& [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) {
        xs.push_back(x);
        ys.push_back(y);
      }
  const Axis ax = make_axis(chart.x_min, chart.x_max, xs, "x");
  const Axis ay = make_axis(chart.y_min, chart.y_max, ys, "y");

  const double left = kChartMarginLeft;
  const double top = kChartMarginTop;
  const double right = chart.width - kChartMarginRight;
  const double bottom = chart.height - kChartMarginBottom;
  const auto to_x = [&](double x) { return left + (x - ax.lo) / (ax.hi - ax.lo) * (right - left); };
  const auto to_y = [&](double y) { return bottom - (y - ay.lo) / (ay.hi - ay.lo) * (bottom - top); };

  const std::string w = std::to_string(chart.width);
  const std::string h = std::to_string(chart.height);
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w +
                  "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<defs><clipPath id=\"plot-area\"><rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" +
       px(right - left) + "\" height=\"" + px(bottom - top) + "\"/></clipPath></defs>\n";
  o += "<text x=\"" + px(chart.width / 2.0) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" +
       xml_escape(chart.title) + "</text>\n";
  // Axes, ticks and labels.
  o += "<g stroke=\"black\" stroke-width=\"1\">\n<line x1=\"" + px(left) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(right) +
       "\" y2=\"" + px(bottom) + "\"/>\n<line x1=\"" + px(left) + "\" y1=\"" + px(top) + "\" x2=\"" + px(left) +
       "\" y2=\"" + px(bottom) + "\"/>\n";
  for (const double t : ax.ticks)
    o += "<line x1=\"" + px(to_x(t)) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(to_x(t)) + "\" y2=\"" +
         px(bottom + 5) + "\"/>\n";
  for (const double t : ay.ticks)
    o += "<line x1=\"" + px(left - 5) + "\" y1=\"" + px(to_y(t)) + "\" x2=\"" + px(left) + "\" y2=\"" + px(to_y(t)) +
         "\"/>\n";
  o += "</g>\n<g class=\"tick-labels\">\n";
  for (const double t : ax.ticks)
    o += "<text x=\"" + px(to_x(t)) + "\" y=\"" + px(bottom + 18) + "\" text-anchor=\"middle\">" +
         xml_escape(tick_label(t, ax.step)) + "</text>\n";
  for (const double t : ay.ticks)
    o += "<text x=\"" + px(left - 8) + "\" y=\"" + px(to_y(t) + 4) + "\" text-anchor=\"end\">" +
         xml_escape(tick_label(t, ay.step)) + "</text>\n";
  o += "</g>\n<text x=\"" + px((left + right) / 2) + "\" y=\"" + px(chart.height - 12.0) +
       "\" text-anchor=\"middle\">" + xml_escape(chart.x_label) + "</text>\n";
  o += "<text transform=\"rotate(-90)\" x=\"" + px(-(top + bottom) / 2) + "\" y=\"18\" text-anchor=\"middle\">" +
       xml_escape(chart.y_label) + "</text>\n";
  // Series.
  std::vector<std::pair<std::string, std::string>> legend;  // (name, colour), escaped
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const std::string color = xml_escape(s.color.empty() ? kPalette[i % 8] : s.color);
    std::string coords;
    std::string circles;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      const std::string p = px(to_x(x)) + "," + px(to_y(y));
      coords += (coords.empty() ? "" : " ") + p;
      circles += "<circle cx=\"" + px(to_x(x)) + "\" cy=\"" + px(to_y(y)) + "\" r=\"3\"/>";
    }
    if (s.line && !coords.empty())
      o += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\" clip-path=\"url(#plot-area)\" points=\"" +
           coords + "\"/>\n";
    if (s.markers && !circles.empty())
      o += "<g fill=\"" + color + "\" clip-path=\"url(#plot-area)\">" + circles + "</g>\n";
    if (!s.name.empty()) legend.emplace_back(xml_escape(s.name), color);
  }
  // Legend, top-right inside the plot area.
  if (chart.legend && !legend.empty()) {
    size_t longest = 0;
    for (const ChartSeries& s : chart.series) longest = std::max(longest, s.name.size());
    const double box_w = 36.0 + 7.0 * static_cast<double>(longest);
    const double box_h = 8.0 + 18.0 * static_cast<double>(legend.size());
    const double x0 = right - box_w - 8;
    const double y0 = top + 8;
    o += "<g class=\"legend\">\n<rect x=\"" + px(x0) + "\" y=\"" + px(y0) + "\" width=\"" + px(box_w) + "\" height=\"" +
         px(box_h) + "\" fill=\"white\" stroke=\"#999999\"/>\n";
    for (size_t k = 0; k < legend.size(); ++k) {
      const double y = y0 + 16 + 18.0 * static_cast<double>(k);
      o += "<line x1=\"" + px(x0 + 6) + "\" y1=\"" + px(y - 4) + "\" x2=\"" + px(x0 + 26) + "\" y2=\"" + px(y - 4) +
           "\" stroke=\"" + legend[k].second + "\" stroke-width=\"2\"/><text x=\"" + px(x0 + 30) + "\" y=\"" + px(y) +
           "\">" + legend[k].first + "</text>\n";
    }
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

void write_svg_line_chart(const std::string& path, const Chart& chart) { write_file_atomic(path, svg_line_chart(chart)); }

}  // namespace strand::io
