// A small dependency-free SVG line-chart writer, for report figures (precision-coverage curves of
// the de novo evaluation, training curves, ...) on machines without a plotting stack.
//
// Layout: a fixed-size canvas with the title on top, the plot area framed by the axes, tick marks
// and labels at "nice" steps (1, 2 or 5 times a power of ten, about 5 per axis), axis labels
// below and left, and a legend in the plot area's top-right corner listing the named series.
// Data coordinates map linearly to pixels, y growing upwards; lines and markers are clipped to
// the plot area. Points and pixel coordinates are printed with two decimals.
// Automatic ranges span the finite data rounded outwards to the tick step; no data gives [0, 1];
// a single value v gives [v - 0.5, v + 0.5] before rounding. Non-finite points are skipped (a
// line joins their neighbours); an empty series draws nothing but keeps its legend entry; a
// chart without data draws the axes only. All text is XML-escaped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strand::io {

struct ChartSeries {
  std::string name;                             ///< legend text; empty: not in the legend
  std::vector<std::pair<double, double>> points;  ///< (x, y) in drawing order
  bool line = true;                             ///< draw a polyline through the points
  bool markers = false;                         ///< draw a circle at each point
  std::string color;                            ///< SVG colour; empty: palette colour of its index
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::optional<double> x_min, x_max, y_min, y_max;  ///< fixed bounds; unset: automatic
  int width = 640;   ///< pixels, >= 200
  int height = 480;  ///< pixels, >= 150
  bool legend = true;
  std::vector<ChartSeries> series;
};

/// Plot-area margins in pixels (the test derives the expected coordinates from them).
constexpr int kChartMarginLeft = 70;
constexpr int kChartMarginRight = 20;
constexpr int kChartMarginTop = 40;
constexpr int kChartMarginBottom = 55;

/// The SVG document. InputError for a canvas below the minimum size, a non-finite fixed bound or
/// a fixed minimum not below the maximum (once both bounds of an axis are known).
std::string svg_line_chart(const Chart& chart);

/// Writes svg_line_chart(chart) to `path` atomically. IoError on failure.
void write_svg_line_chart(const std::string& path, const Chart& chart);

/// Text with &, <, >, " and ' replaced by XML entities.
std::string xml_escape(std::string_view text);

/// Tick positions covering [lo, hi] at a nice step (1, 2 or 5 x 10^k) giving about `target`
/// intervals: from floor(lo / step) * step to ceil(hi / step) * step. lo < hi, both finite.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace strand::io
