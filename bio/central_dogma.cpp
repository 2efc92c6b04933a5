#include "bio/central_dogma.h"

#include <cctype>

#include "bio/alphabet.h"
#include "bio/codon_usage.h"
#include "bio/genetic_code.h"
#include "libseq/core/error.h"

namespace strand::bio {
namespace {

std::string swap_base(std::string_view seq, char from, char to, const char* what, const char* wrong_alphabet) {
  const char from_lower = static_cast<char>(std::tolower(static_cast<unsigned char>(from)));
  const char to_lower = static_cast<char>(std::tolower(static_cast<unsigned char>(to)));
  std::string out(seq);
  for (size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    if (c == from) {
      c = to;
    } else if (c == from_lower) {
      c = to_lower;
    } else if (c == to || c == to_lower) {
      throw InputError(strand::detail::str(what, ": character ", describe_char(c), " at position ", i, " (sequence length ",
                                   seq.size(), "): the input is ", wrong_alphabet));
    } else if (!is_iupac_nucleotide(c) && !is_gap(c)) {
      throw InputError(strand::detail::str(what, ": character ", describe_char(c), " at position ", i, " (sequence length ",
                                   seq.size(), ") is not an IUPAC nucleotide code or gap"));
    }
  }
  return out;
}

void check_nucleotides(std::string_view seq, const char* what) {
  for (size_t i = 0; i < seq.size(); ++i) {
    if (base_mask(seq[i]) == 0) {
      throw InputError(strand::detail::str(what, ": character ", describe_char(seq[i]), " at position ", i,
                                   " (sequence length ", seq.size(), ") is not an IUPAC nucleotide code"));
    }
  }
}

const char* strand_name(Strand strand) { return strand == Strand::Plus ? "plus" : "minus"; }

// Translates one frame of a sequence already oriented on the chosen strand and checked.
std::string translate_frame(std::string_view seq, const GeneticCode& code, int frame, Strand strand, bool to_stop,
                            bool first_codon_as_start, PartialCodon partial) {
  std::string protein;
  const size_t start = static_cast<size_t>(frame);
  if (start >= seq.size()) return protein;
  protein.reserve((seq.size() - start) / 3 + 1);
  size_t i = start;
  auto emit = [&](std::string_view codon) {
    char aa = code.translate(codon);
    if (i == start && first_codon_as_start && code.is_start(codon)) aa = 'M';
    if (to_stop && aa == '*') return false;
    protein.push_back(aa);
    return true;
  };
  for (; i + 3 <= seq.size(); i += 3) {
    if (!emit(seq.substr(i, 3))) return protein;
  }
  const size_t left = seq.size() - i;
  if (left == 0) return protein;
  switch (partial) {
    case PartialCodon::Drop:
      break;
    case PartialCodon::PadN: {
      std::string codon(seq.substr(i));
      codon.resize(3, 'N');
      emit(codon);
      break;
    }
    case PartialCodon::Error:
      throw InputError(strand::detail::str("translate: frame ", frame, " of the ", strand_name(strand), " strand (length ",
                                   seq.size(), ") leaves ", left, " base", left == 1 ? "" : "s", " '", seq.substr(i),
                                   "' after the last whole codon"));
  }
  return protein;
}

}  // namespace

std::string transcribe(std::string_view dna) { return swap_base(dna, 'T', 'U', "transcribe", "RNA, not DNA"); }

std::string reverse_transcribe(std::string_view rna) {
  return swap_base(rna, 'U', 'T', "reverse_transcribe", "DNA, not RNA");
}

std::string translate(std::string_view seq, const TranslateOptions& options) {
  const GeneticCode& code = GeneticCode::ncbi(options.table);
  STRAND_CHECK(options.frame >= 0 && options.frame <= 2, "translate: frame must be 0, 1 or 2, found ", options.frame);
  check_nucleotides(seq, "translate");
  if (options.strand == Strand::Plus) {
    return translate_frame(seq, code, options.frame, options.strand, options.to_stop, options.first_codon_as_start,
                           options.partial);
  }
  const std::string minus = reverse_complement(seq);
  return translate_frame(minus, code, options.frame, options.strand, options.to_stop, options.first_codon_as_start,
                         options.partial);
}

std::array<FrameTranslation, 6> six_frame_translate(std::string_view seq, int table, PartialCodon partial) {
  const GeneticCode& code = GeneticCode::ncbi(table);
  check_nucleotides(seq, "six_frame_translate");
  const std::string minus = reverse_complement(seq);
  std::array<FrameTranslation, 6> out;
  for (int k = 0; k < 6; ++k) {
    const Strand strand = k < 3 ? Strand::Plus : Strand::Minus;
    const int frame = k % 3;
    out[k].strand = strand;
    out[k].frame = frame;
    out[k].protein = translate_frame(strand == Strand::Plus ? seq : std::string_view(minus), code, frame, strand,
                                     false, false, partial);
  }
  return out;
}

std::string reverse_translate(std::string_view protein, const ReverseTranslateOptions& options) {
  const GeneticCode& code = GeneticCode::ncbi(options.table);
  STRAND_CHECK(options.rule != ReverseTranslationRule::MostFrequent || options.usage != nullptr,
               "reverse_translate: the MostFrequent rule needs a codon usage table (options.usage)");
  // One codon per residue letter, computed on first use.
  std::array<std::string, 128> chosen;
  std::string out;
  out.reserve(protein.size() * 3);
  for (size_t i = 0; i < protein.size(); ++i) {
    const char c = protein[i];
    const char aa = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    STRAND_CHECK((aa >= 'A' && aa <= 'Z') || aa == '*', "reverse_translate: character ", describe_char(c),
                 " at position ", i, " (protein length ", protein.size(), ") is not an amino-acid letter or '*'");
    std::string& codon = chosen[static_cast<unsigned char>(aa)];
    if (codon.empty()) {
      if (aa == 'X') {
        codon = "NNN";
      } else {
        STRAND_CHECK(code.ncbieaa().find(aa) != std::string::npos, "reverse_translate: residue ", describe_char(c),
                     " at position ", i, " (protein length ", protein.size(), ") has no codon in genetic code ",
                     code.id(), " (", code.name(), ")");
        switch (options.rule) {
          case ReverseTranslationRule::MostFrequent: codon = options.usage->most_frequent_codon(aa, code); break;
          case ReverseTranslationRule::Degenerate: codon = code.degenerate_codon(aa); break;
          case ReverseTranslationRule::ExactDegenerate: codon = code.exact_degenerate_codon(aa); break;
        }
      }
      if (options.rna) {
        for (char& b : codon) {
          if (b == 'T') b = 'U';
        }
      }
    }
    out += codon;
  }
  return out;
}

}  // namespace strand::bio
