// "ntv2-6mer": the Nucleotide Transformer v2 6-mer tokenizer (InstaDeep
// nucleotide-transformer, `compute_tokens_to_ids_v2(k=6)` and `NucleotidesKmersTokenizer`),
// id for id, so that NT v2 checkpoints (vocab_size 4107) can be used as they are.
//
// Vocabulary (4107 ids):
//   0 <unk>  1 <pad>  2 <mask>  3 <cls>  4 <eos>  5 <bos>
//   6..4101  the 4096 6-mers in A,T,C,G order: id = 6 + the base-4 number of the 6-mer with
//            A=0, T=1, C=2, G=3, first base most significant (AAAAAA=6, AAAAAT=7, GGGGGG=4101)
//   4102 A  4103 T  4104 C  4105 G  4106 N   single-base tokens
//
// Algorithm (as NucleotidesKmersTokenizer.tokenize): the text is split on N; each piece is cut
// left to right into 6-mers; the bases left over at the end of a piece (fewer than 6) become
// single-base tokens; each N becomes the N token. <cls> is prepended; no <eos> is added.
//   ACGTGTACNTGCACGGANCGACTAGTCTGA -> <cls> ACGTGT A C N TGCACG G A N CGACTA GTCTGA
//
// Input normalisation. The reference tokenizer accepts only upper-case A C G T N (anything else
// is a KeyError there, or <unk> through the Hugging Face tokenizer). Here:
//   - lower case is upper-cased and U is read as T;
//   - the other IUPAC ambiguity codes (R Y S W K M B D H V) become N, splitting pieces like N;
//   - any other byte becomes one <unk> token and also ends the current piece.
// Offsets: a 6-mer spans its 6 bytes, every other token its one byte.
// There is no complement map: a 6-mer split is anchored at the start of each piece, so the token
// sequence of a reverse complement is not the reversed, complemented token sequence.
// Immutable; every const member is thread-safe.
#pragma once

#include <string>

#include "libseq/tokenize/byte_kernels.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio {

class Ntv2KmerTokenizer final : public tokenize::Tokenizer {
 public:
  static constexpr tokenize::TokenId kUnk = 0;
  static constexpr tokenize::TokenId kPad = 1;
  static constexpr tokenize::TokenId kMask = 2;
  static constexpr tokenize::TokenId kCls = 3;
  static constexpr tokenize::TokenId kEos = 4;
  static constexpr tokenize::TokenId kBos = 5;
  static constexpr tokenize::TokenId kFirstKmer = 6;
  static constexpr tokenize::TokenId kFirstSingle = 4102;  ///< A; then T, C, G
  static constexpr tokenize::TokenId kN = 4106;

  Ntv2KmerTokenizer();

  std::string type() const override { return "ntv2-6mer"; }
  nlohmann::json options() const override { return nlohmann::json::object(); }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  tokenize::ByteTable codes_;
};

}  // namespace strand::bio
