// Buffered line reading over an htslib BGZF stream (plain, gzip and BGZF input alike), shared by
// the FASTA and FASTQ parsers. Internal to bio/io.
//
// Lines end at '\n'; a '\r' immediately before it (CRLF line ends) is dropped, so CRLF files read
// exactly like LF files. A '\r' anywhere else is kept and left to the parser to reject. The last
// line may lack its '\n'.
//
// Reading is done in large blocks (kBlockSize) with no allocation per line: a line is handed out
// as a view into the block buffer, or, when one line is longer than the whole buffer (unwrapped
// chromosome-length FASTA), as consecutive pieces of it, so memory stays bounded by the caller's
// own copy of the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct BGZF;

namespace strand::bio::io::detail {

class LineReader {
 public:
  static constexpr size_t kBlockSize = size_t{1} << 20;

  /// Takes ownership of `fp` (closed by the destructor). `path` is used in messages. Throws
  /// ParseError when `fp` is BGZF-compressed and seekable but lacks the BGZF end-of-file marker
  /// (the file was truncated at a block boundary).
  LineReader(BGZF* fp, std::string path, int threads);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  const std::string& path() const { return path_; }

  /// 1-based number of the line the next byte belongs to.
  int64_t line_number() const { return line_; }

  /// The next byte without consuming it, or -1 at the end of the input.
  int peek();

  /// Reads the next piece of the current line into `piece` (valid until the next call). Sets
  /// `line_complete` when the piece ends the line (its '\n', and a '\r' before it, are consumed
  /// and left out). Returns false at the end of the input.
  bool next_piece(std::string_view& piece, bool& line_complete);

  /// Reads the rest of the current line into `out` (replacing its content). Returns false at the
  /// end of the input.
  bool read_line(std::string& out);

  /// Consumes the rest of the current line.
  void skip_line();

  /// Up to kBlockSize bytes from the current position on, without consuming them (fills the
  /// buffer first). Used for format sniffing.
  std::string_view lookahead();

  /// All bytes are consumed.
  bool at_end() { return peek() < 0; }

 private:
  void refill();

  BGZF* fp_;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  int64_t line_ = 1;
  bool eof_ = false;
};

/// Splits a header line (without its '>' or '@') htslib-style: leading blanks skipped, name up
/// to the next space or tab, description after the run of blanks that follows. Returns the
/// 0-based offset of the first byte that is a control character other than tab (binary data),
/// or npos when there is none.
size_t split_header(std::string_view text, std::string& name, std::string& description);

/// Index of the first byte in `s` that is not a valid sequence byte (ASCII letter, '*', '-',
/// '.'), or npos.
size_t find_invalid_residue(std::string_view s);

/// Index of the first byte in `s` outside '!'..'~', or npos.
size_t find_invalid_quality(std::string_view s);

/// "'A'" for printable bytes, "0x00" style otherwise: how messages show a byte that was found.
std::string describe_byte(unsigned char c);

/// The start of `line` for a message: at most 40 printable bytes, quoted, with "..." if cut.
std::string excerpt(std::string_view line);

}  // namespace strand::bio::io::detail
