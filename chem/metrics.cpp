#include "chem/metrics.h"

#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/ChemTransforms/MolFragmenter.h>
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <GraphMol/Substruct/SubstructMatch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "chem/molio.h"
#include "chem/scaffold.h"
#include "libseq/core/error.h"
#include "libseq/core/parallel.h"
#include "libseq/io/text_lines.h"

namespace strand::chem {
namespace {

// ---------------------------------------------------------------------------------------------
// QED (RDKit 2022.09 rdkit.Chem.QED, descriptor version 1.1.0)

const char* const kAcceptorSmarts[] = {
    "[oH0;X2]", "[OH1;X2;v2]", "[OH0;X2;v2]", "[OH0;X1;v2]", "[O-;X1]", "[SH0;X2;v2]", "[SH0;X1;v2]",
    "[S-;X1]", "[nH0;X2]", "[NH0;X1;v3]", "[$([N;+0;X3;v3]);!$(N[C,S]=O)]",
};

const char* const kAlertSmarts[] = {
    "*1[O,S,N]*1", "[S,C](=[O,S])[F,Br,Cl,I]", "[CX4][Cl,Br,I]", "[#6]S(=O)(=O)O[#6]",
    "[$([CH]),$(CC)]#CC(=O)[#6]", "[$([CH]),$(CC)]#CC(=O)O[#6]", "n[OH]", "[$([CH]),$(CC)]#CS(=O)(=O)[#6]",
    "C=C(C=O)C=O", "n1c([F,Cl,Br,I])cccc1", "[CH1](=O)", "[#8][#8]", "[C;!R]=[N;!R]", "[N!R]=[N!R]",
    "[#6](=O)[#6](=O)", "[#16][#16]", "[#7][NH2]", "C(=O)N[NH2]", "[#6]=S",
    "[$([CH2]),$([CH][CX4]),$(C([CX4])[CX4])]=[$([CH2]),$([CH][CX4]),$(C([CX4])[CX4])]",
    "C1(=[O,N])C=CC(=[O,N])C=C1", "C1(=[O,N])C(=[O,N])C=CC=C1", "a21aa3a(aa1aaaa2)aaaa3",
    "a31a(a2a(aa1)aaaa2)aaaa3", "a1aa2a3a(a1)A=AA=A3=AA=A2", "c1cc([NH2])ccc1",
    "[Hg,Fe,As,Sb,Zn,Se,se,Te,B,Si,Na,Ca,Ge,Ag,Mg,K,Ba,Sr,Be,Ti,Mo,Mn,Ru,Pd,Ni,Cu,Au,Cd,Al,Ga,Sn,Rh,Tl,Bi,Nb,Li,Pb,Hf,Ho]",
    "I", "OS(=O)(=O)[O-]", "[N+](=O)[O-]", "C(=O)N[OH]", "C1NC(=O)NC(=O)1", "[SH]", "[S-]",
    "c1ccc([Cl,Br,I,F])c([Cl,Br,I,F])c1[Cl,Br,I,F]", "c1cc([Cl,Br,I,F])cc([Cl,Br,I,F])c1[Cl,Br,I,F]",
    "[CR1]1[CR1][CR1][CR1][CR1][CR1][CR1]1", "[CR1]1[CR1][CR1]cc[CR1][CR1]1",
    "[CR2]1[CR2][CR2][CR2][CR2][CR2][CR2][CR2]1", "[CR2]1[CR2][CR2]cc[CR2][CR2][CR2]1",
    "[CH2R2]1N[CH2R2][CH2R2][CH2R2][CH2R2][CH2R2]1", "[CH2R2]1N[CH2R2][CH2R2][CH2R2][CH2R2][CH2R2][CH2R2]1",
    "C#C", "[OR2,NR2]@[CR2]@[CR2]@[OR2,NR2]@[CR2]@[CR2]@[OR2,NR2]", "[$([N+R]),$([n+R]),$([N+]=C)][O-]",
    "[#6]=N[OH]", "[#6]=NOC=O", "[#6](=O)[CX4,CR0X3,O][#6](=O)", "c1ccc2c(c1)ccc(=O)o2", "[O+,o+,S+,s+]",
    "N=C=O", "[NX3,NX4][F,Cl,Br,I]", "c1ccccc1OC(=O)[#6]", "[CR0]=[CR0][CR0]=[CR0]", "[C+,c+,C-,c-]",
    "N=[N+]=[N-]", "C12C(NC(N1)=O)CSC2", "c1c([OH])c([OH,NH2,NH])ccc1", "P", "[N,O,S]C#N", "C=C=O",
    "[Si][F,Cl,Br,I]", "[SX2]O", "[SiR0,CR0](c1ccccc1)(c2ccccc2)(c3ccccc3)", "O1CCCCC1OC2CCC3CCCCC3C2",
    "N=[CR0][N,n,O,S]",
    "[cR2]1[cR2][cR2]([Nv3X3,Nv4X4])[cR2][cR2][cR2]1[cR2]2[cR2][cR2][cR2]([Nv3X3,Nv4X4])[cR2][cR2]2",
    "C=[C!r]C#N", "[cR2]1[cR2]c([N+0X3R0,nX3R0])c([N+0X3R0,nX3R0])[cR2][cR2]1",
    "[cR2]1[cR2]c([N+0X3R0,nX3R0])[cR2]c([N+0X3R0,nX3R0])[cR2]1",
    "[cR2]1[cR2]c([N+0X3R0,nX3R0])[cR2][cR2]c1([N+0X3R0,nX3R0])", "[OH]c1ccc([OH,NH2,NH])cc1",
    "c1ccccc1OC(=O)O", "[SX2H0][N]", "c12ccccc1(SC(S)=N2)", "c12ccccc1(SC(=S)N2)", "c1nnnn1C=O",
    "s1c(S)nnc1NC=O", "S1C=CSC1=S", "C(=O)Onnn", "OS(=O)(=O)C(F)(F)F", "N#CC[OH]", "N#CC(=O)", "S(=O)(=O)C#N",
    "N[CH2]C#N", "C1(=O)NCC1", "S(=O)(=O)[O-,OH]", "NC[F,Cl,Br,I]", "C=[C!r]O", "[NX2+0]=[O+0]",
    "[OR0,NR0][OR0,NR0]", "C(=O)O[C,H1].C(=O)O[C,H1].C(=O)O[C,H1]", "[CX2R0][NX3R0]",
    "c1ccccc1[C;!R]=[C;!R]c2ccccc2", "[NX3R0,NX4R0,OR0,SX2R0][CX4][NX3R0,NX4R0,OR0,SX2R0]",
    "[s,S,c,C,n,N,o,O]~[n+,N+](~[s,S,c,C,n,N,o,O])(~[s,S,c,C,n,N,o,O])~[s,S,c,C,n,N,o,O]",
    "[s,S,c,C,n,N,o,O]~[nX3+,NX3+](~[s,S,c,C,n,N])~[s,S,c,C,n,N]", "[*]=[N+]=[*]", "[SX3](=O)[O-,OH]", "N#N",
    "F.F.F.F", "[R0;D2][R0;D2][R0;D2][R0;D2]", "[cR,CR]~C(=O)NC(=O)~[cR,CR]", "C=!@CC=[O,S]",
    "[#6,#8,#16][#6](=O)O[#6]", "c[C;R0](=[O,S])[#6]", "c[SX2][C;!R]", "C=C=C", "c1nc([F,Cl,Br,I,S])ncc1",
    "c1ncnc([F,Cl,Br,I,S])c1", "c1nc(c2c(n1)nc(n2)[F,Cl,Br,I])", "[#6]S(=O)(=O)c1ccc(cc1)F", "[15N]", "[13C]",
    "[18O]", "[34S]",
};

struct Ads {
  double a, b, c, d, e, f, dmax;
};
// MW, ALOGP, HBA, HBD, PSA, ROTB, AROM, ALERTS.
constexpr std::array<Ads, 8> kAds = {{{2.817065973, 392.5754953, 290.7489764, 2.419764353, 49.22325677, 65.37051707, 104.9805561},
                                      {3.172690585, 137.8624751, 2.534937431, 4.581497897, 0.822739154, 0.576295591, 131.3186604},
                                      {2.948620388, 160.4605972, 3.615294657, 4.435986202, 0.290141953, 1.300669958, 148.7763046},
                                      {1.618662227, 1010.051101, 0.985094388, 1e-9, 0.713820843, 0.920922555, 258.1632616},
                                      {1.876861559, 125.2232657, 62.90773554, 87.83366614, 12.01999824, 28.51324732, 104.5686167},
                                      {0.01, 272.4121427, 2.55837997, 1.565547684, 1.271567166, 2.758063707, 105.4420403},
                                      {3.21778897, 957.7374108, 2.274627939, 1e-9, 1.317690384, 0.375760881, 312.337261},
                                      {0.01, 1199.094025, -0.09002883, 1e-9, 0.185904477, 0.875193782, 417.725314}}};
constexpr std::array<double, 8> kQedWeights = {0.66, 0.46, 0.05, 0.61, 0.06, 0.65, 0.48, 0.95};

double ads(double x, const Ads& p) {
  const double e1 = 1 + std::exp(-(x - p.c + p.d / 2) / p.e);
  const double e2 = 1 + std::exp(-(x - p.c - p.d / 2) / p.f);
  return (p.a + p.b / e1 * (1 - 1 / e2)) / p.dmax;
}

struct QedPatterns {
  std::vector<std::unique_ptr<RDKit::ROMol>> acceptors;
  std::vector<std::unique_ptr<RDKit::ROMol>> alerts;
  std::unique_ptr<RDKit::ROMol> aliphatic_rings;
};

const QedPatterns& qed_patterns() {
  static const QedPatterns p = [] {
    QedPatterns q;
    for (const char* s : kAcceptorSmarts) q.acceptors.emplace_back(RDKit::SmartsToMol(s));
    for (const char* s : kAlertSmarts) q.alerts.emplace_back(RDKit::SmartsToMol(s));
    q.aliphatic_rings.reset(RDKit::SmartsToMol("[$([A;R][!a])]"));
    return q;
  }();
  return p;
}

bool has_match(const RDKit::ROMol& mol, const RDKit::ROMol& query) {
  RDKit::MatchVectType match;
  return RDKit::SubstructMatch(mol, query, match);
}

// ---------------------------------------------------------------------------------------------
// Fingerprints and set similarities

constexpr unsigned kFpBits = 1024;
constexpr size_t kFpWords = kFpBits / 64;
using Fingerprint = std::array<uint64_t, kFpWords>;

Fingerprint morgan_bits(const RDKit::ROMol& mol) {
  std::unique_ptr<ExplicitBitVect> bv(RDKit::MorganFingerprints::getFingerprintAsBitVect(mol, 2, kFpBits));
  Fingerprint fp{};
  std::vector<int> on;
  bv->getOnBits(on);
  for (const int b : on) fp[static_cast<size_t>(b) / 64] |= uint64_t{1} << (static_cast<unsigned>(b) % 64);
  return fp;
}

double tanimoto(const Fingerprint& a, const Fingerprint& b) {
  int inter = 0;
  int uni = 0;
  for (size_t w = 0; w < kFpWords; ++w) {
    inter += __builtin_popcountll(a[w] & b[w]);
    uni += __builtin_popcountll(a[w] | b[w]);
  }
  return uni == 0 ? 1.0 : static_cast<double>(inter) / uni;
}

double cosine(const std::map<std::string, int64_t>& a, const std::map<std::string, int64_t>& b) {
  double dot = 0;
  double na = 0;
  double nb = 0;
  for (const auto& [k, v] : a) {
    na += static_cast<double>(v) * static_cast<double>(v);
    const auto it = b.find(k);
    if (it != b.end()) dot += static_cast<double>(v) * static_cast<double>(it->second);
  }
  for (const auto& [k, v] : b) nb += static_cast<double>(v) * static_cast<double>(v);
  return na == 0 || nb == 0 ? 0.0 : dot / std::sqrt(na * nb);
}

std::map<std::string, int64_t> brics_fragments(const std::vector<std::shared_ptr<RDKit::ROMol>>& mols) {
  std::map<std::string, int64_t> counts;
  for (const auto& m : mols) {
    try {
      std::unique_ptr<RDKit::ROMol> frags(RDKit::MolFragmenter::fragmentOnBRICSBonds(*m));
      const std::string smiles = RDKit::MolToSmiles(*frags);
      size_t start = 0;
      while (start <= smiles.size()) {
        const size_t dot = smiles.find('.', start);
        ++counts[smiles.substr(start, dot == std::string::npos ? std::string::npos : dot - start)];
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    } catch (const std::exception&) {
      // a molecule BRICS cannot cut contributes nothing
    }
  }
  return counts;
}

std::map<std::string, int64_t> scaffolds(const std::vector<std::string>& canonical) {
  std::map<std::string, int64_t> counts;
  for (const auto& s : canonical) {
    try {
      const std::string scaffold = murcko_scaffold(s);
      if (scaffold.empty()) continue;
      auto mol = parse_smiles(scaffold);
      if (mol != nullptr && mol->getRingInfo()->numRings() >= 2) ++counts[scaffold];  // MOSES: min_rings = 2
    } catch (const std::exception&) {
    }
  }
  return counts;
}

Summary summarise(std::vector<double> values, std::vector<double> reference) {
  Summary s;
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }), values.end());
  if (values.empty()) {
    s.mean = s.sd = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double var = 0;
  for (const double v : values) var += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(var / static_cast<double>(values.size()));
  reference.erase(std::remove_if(reference.begin(), reference.end(), [](double v) { return std::isnan(v); }), reference.end());
  if (!reference.empty()) {
    // W1 between two empirical distributions: the integral of |F_a - F_b|.
    std::sort(values.begin(), values.end());
    std::sort(reference.begin(), reference.end());
    std::vector<double> points = values;
    points.insert(points.end(), reference.begin(), reference.end());
    std::sort(points.begin(), points.end());
    double w = 0;
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      const double fa = static_cast<double>(std::upper_bound(values.begin(), values.end(), points[i]) - values.begin()) /
                        static_cast<double>(values.size());
      const double fb = static_cast<double>(std::upper_bound(reference.begin(), reference.end(), points[i]) - reference.begin()) /
                        static_cast<double>(reference.size());
      w += std::abs(fa - fb) * (points[i + 1] - points[i]);
    }
    s.w1 = w;
  }
  return s;
}

/// fn(i) for i in [0, n) on up to `threads` threads.
template <typename Fn>
void each(int64_t n, int threads, Fn fn) {
  parallel_for(
      n, 1,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) fn(i);
      },
      threads);
}

struct Parsed {
  std::vector<std::shared_ptr<RDKit::ROMol>> mols;  ///< valid, in input order
  std::vector<std::string> canonical;               ///< parallel to mols
  int64_t empty = 0;
};

Parsed parse_all(const std::vector<std::string>& smiles, int threads) {
  std::vector<std::shared_ptr<RDKit::ROMol>> mols(smiles.size());
  std::vector<std::string> canon(smiles.size());
  each(static_cast<int64_t>(smiles.size()), threads, [&](int64_t i) {
    const auto k = static_cast<size_t>(i);
    if (smiles[k].empty()) return;
    auto m = parse_smiles(smiles[k]);
    if (m == nullptr || m->getNumAtoms() == 0) return;
    canon[k] = RDKit::MolToSmiles(*m);
    mols[k] = std::shared_ptr<RDKit::ROMol>(std::move(m));
  });
  Parsed p;
  for (size_t i = 0; i < smiles.size(); ++i) {
    if (smiles[i].empty()) ++p.empty;
    if (mols[i] == nullptr) continue;
    p.mols.push_back(std::move(mols[i]));
    p.canonical.push_back(std::move(canon[i]));
  }
  return p;
}

}  // namespace

double qed(const RDKit::ROMol& input) {
  const QedPatterns& p = qed_patterns();
  std::unique_ptr<RDKit::ROMol> mol(RDKit::MolOps::removeHs(input));
  std::array<double, 8> x{};
  x[0] = RDKit::Descriptors::calcAMW(*mol);
  x[1] = RDKit::Descriptors::calcClogP(*mol);
  for (const auto& a : p.acceptors) {
    RDKit::SubstructMatchParameters params;
    params.maxMatches = 1000;
    x[2] += static_cast<double>(RDKit::SubstructMatch(*mol, *a, params).size());
  }
  x[3] = RDKit::Descriptors::calcNumHBD(*mol);
  x[4] = RDKit::Descriptors::calcTPSA(*mol);
  x[5] = RDKit::Descriptors::calcNumRotatableBonds(*mol, RDKit::Descriptors::Strict);
  std::unique_ptr<RDKit::ROMol> aromatic(RDKit::deleteSubstructs(*mol, *p.aliphatic_rings));
  x[6] = RDKit::MolOps::findSSSR(*aromatic);
  for (const auto& a : p.alerts) x[7] += has_match(*mol, *a) ? 1 : 0;
  double t = 0;
  double wsum = 0;
  for (size_t i = 0; i < 8; ++i) {
    t += kQedWeights[i] * std::log(ads(x[i], kAds[i]));
    wsum += kQedWeights[i];
  }
  return std::exp(t / wsum);
}

// ---------------------------------------------------------------------------------------------
// SA score

std::string SaScorer::default_path() { return "/usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz"; }

SaScorer::SaScorer(const std::string& path) {
  // A protocol-0 pickle of [[score, id, id, ...], ...]: "F<score>" lines start a group, "I<id>"
  // or "L<id>L" lines (after the list-append opcode 'a') add fragment ids to it.
  io::TextLines lines = io::TextLines::open(path);
  std::string_view line;
  bool have_score = false;
  float score = 0;
  scores_.reserve(800000);
  while (lines.next(line)) {
    while (!line.empty() && (line.front() == 'a' || line.front() == '(')) line.remove_prefix(1);
    if (line.empty()) continue;
    if (line.front() == 'F') {
      try {
        score = std::stof(std::string(line.substr(1)));
      } catch (const std::exception&) {
        throw ParseError(Location{path, lines.line_number(), ""}, "expected a fragment score, found '" + std::string(line) + "'");
      }
      have_score = true;
    } else if (line.front() == 'I' || line.front() == 'L') {
      std::string digits(line.substr(1));
      if (!digits.empty() && digits.back() == 'L') digits.pop_back();
      if (!have_score || digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw ParseError(Location{path, lines.line_number(), ""}, "expected a fragment id after a score, found '" + std::string(line) + "'");
      scores_[static_cast<uint32_t>(std::stoul(digits))] = score;
    }
  }
  if (scores_.empty()) throw ParseError(Location{path, -1, ""}, "no fragment scores found (expected RDKit's fpscores.pkl.gz)");
}

double SaScorer::score(const RDKit::ROMol& mol) const {
  std::unique_ptr<RDKit::SparseIntVect<std::uint32_t>> fp(RDKit::MorganFingerprints::getFingerprint(mol, 2));
  const auto& elements = fp->getNonzeroElements();
  double score1 = 0;
  double nf = 0;
  for (const auto& [id, count] : elements) {
    nf += count;
    const auto it = scores_.find(id);
    score1 += (it == scores_.end() ? -4.0 : static_cast<double>(it->second)) * count;
  }
  if (nf > 0) score1 /= nf;
  const auto n_atoms = static_cast<double>(mol.getNumAtoms());
  RDKit::RWMol copy(mol);
  RDKit::MolOps::assignStereochemistry(copy, false, true, true);
  int chiral = 0;
  for (const auto* atom : copy.atoms())
    if (atom->hasProp(RDKit::common_properties::_CIPCode) || atom->hasProp(RDKit::common_properties::_ChiralityPossible)) ++chiral;
  const unsigned bridgeheads = RDKit::Descriptors::calcNumBridgeheadAtoms(mol);
  const unsigned spiro = RDKit::Descriptors::calcNumSpiroAtoms(mol);
  bool macrocycle = false;
  for (const auto& ring : mol.getRingInfo()->atomRings()) macrocycle = macrocycle || ring.size() > 8;
  const double size_penalty = std::pow(n_atoms, 1.005) - n_atoms;
  const double score2 = -size_penalty - std::log10(chiral + 1.0) - std::log10(spiro + 1.0) - std::log10(bridgeheads + 1.0) -
                        (macrocycle ? std::log10(2.0) : 0.0);
  // Fingerprint density correction (sascorer 1.1): symmetric molecules are easier.
  const double score3 = n_atoms > static_cast<double>(elements.size()) && !elements.empty()
                            ? std::log(n_atoms / static_cast<double>(elements.size())) * 0.5
                            : 0.0;
  double s = score1 + score2 + score3;
  constexpr double kMin = -4.0;
  constexpr double kMax = 2.5;
  s = 11.0 - (s - kMin + 1) / (kMax - kMin) * 9.0;
  if (s > 8.0) s = 8.0 + std::log(s + 1.0 - 9.0);
  return std::clamp(s, 1.0, 10.0);
}

MoleculeProperties molecule_properties(const RDKit::ROMol& mol, const SaScorer* sa) {
  MoleculeProperties p;
  p.logp = RDKit::Descriptors::calcClogP(mol);
  p.mw = RDKit::Descriptors::calcAMW(mol);
  p.tpsa = RDKit::Descriptors::calcTPSA(mol);
  p.qed = qed(mol);
  p.sa = sa != nullptr ? sa->score(mol) : std::numeric_limits<double>::quiet_NaN();
  return p;
}

// ---------------------------------------------------------------------------------------------

GenerationMetrics evaluate_molecules(const std::vector<std::string>& samples, const std::vector<std::string>& training,
                                     const std::vector<std::string>& reference, const GenerationMetricsOptions& o) {
  GenerationMetrics m;
  const int threads = o.threads > 0 ? o.threads : num_threads();
  const Parsed gen = parse_all(samples, threads);
  m.samples = static_cast<int64_t>(samples.size());
  m.empty = gen.empty;
  m.valid = static_cast<int64_t>(gen.mols.size()) + (o.empty_is_valid ? gen.empty : 0);
  m.validity = m.samples == 0 ? 0.0 : static_cast<double>(m.valid) / static_cast<double>(m.samples);
  std::set<std::string> unique(gen.canonical.begin(), gen.canonical.end());
  if (o.empty_is_valid && gen.empty > 0) unique.insert("");
  m.unique = static_cast<int64_t>(unique.size());
  m.uniqueness = m.valid == 0 ? 0.0 : static_cast<double>(m.unique) / static_cast<double>(m.valid);
  if (!training.empty()) {
    const Parsed train = parse_all(training, threads);
    const std::set<std::string> known(train.canonical.begin(), train.canonical.end());
    for (const auto& s : unique) m.novel += known.count(s) == 0 ? 1 : 0;
    m.novelty = m.unique == 0 ? 0.0 : static_cast<double>(m.novel) / static_cast<double>(m.unique);
  }
  const size_t n = gen.mols.size();
  std::vector<Fingerprint> fps(n);
  each(static_cast<int64_t>(n), threads, [&](int64_t i) { fps[static_cast<size_t>(i)] = morgan_bits(*gen.mols[static_cast<size_t>(i)]); });
  if (n > 0) {
    std::vector<double> row1(n);
    std::vector<double> row2(n);
    each(static_cast<int64_t>(n), threads, [&](int64_t i) {
      double s1 = 0;
      double s2 = 0;
      for (size_t j = 0; j < n; ++j) {
        const double t = tanimoto(fps[static_cast<size_t>(i)], fps[j]);
        s1 += t;
        s2 += t * t;
      }
      row1[static_cast<size_t>(i)] = s1 / static_cast<double>(n);
      row2[static_cast<size_t>(i)] = std::sqrt(s2 / static_cast<double>(n));
    });
    m.int_div1 = 1 - std::accumulate(row1.begin(), row1.end(), 0.0) / static_cast<double>(n);
    m.int_div2 = 1 - std::accumulate(row2.begin(), row2.end(), 0.0) / static_cast<double>(n);
  }
  std::vector<MoleculeProperties> props(n);
  each(static_cast<int64_t>(n), threads,
               [&](int64_t i) { props[static_cast<size_t>(i)] = molecule_properties(*gen.mols[static_cast<size_t>(i)], o.sa); });
  std::vector<MoleculeProperties> ref_props;
  if (!reference.empty()) {
    const Parsed ref = parse_all(reference, threads);
    std::vector<Fingerprint> ref_fps(ref.mols.size());
    each(static_cast<int64_t>(ref.mols.size()), threads,
                 [&](int64_t i) { ref_fps[static_cast<size_t>(i)] = morgan_bits(*ref.mols[static_cast<size_t>(i)]); });
    std::vector<double> best(n, 0.0);
    each(static_cast<int64_t>(n), threads, [&](int64_t i) {
      double b = 0;
      for (const auto& r : ref_fps) b = std::max(b, tanimoto(fps[static_cast<size_t>(i)], r));
      best[static_cast<size_t>(i)] = b;
    });
    m.snn = n == 0 ? 0.0 : std::accumulate(best.begin(), best.end(), 0.0) / static_cast<double>(n);
    m.frag = cosine(brics_fragments(gen.mols), brics_fragments(ref.mols));
    m.scaf = cosine(scaffolds(gen.canonical), scaffolds(ref.canonical));
    ref_props.resize(ref.mols.size());
    each(static_cast<int64_t>(ref.mols.size()), threads, [&](int64_t i) {
      ref_props[static_cast<size_t>(i)] = molecule_properties(*ref.mols[static_cast<size_t>(i)], o.sa);
    });
  }
  const auto column = [](const std::vector<MoleculeProperties>& v, double MoleculeProperties::*f) {
    std::vector<double> out;
    out.reserve(v.size());
    for (const auto& p : v) out.push_back(p.*f);
    return out;
  };
  m.logp = summarise(column(props, &MoleculeProperties::logp), column(ref_props, &MoleculeProperties::logp));
  m.mw = summarise(column(props, &MoleculeProperties::mw), column(ref_props, &MoleculeProperties::mw));
  m.tpsa = summarise(column(props, &MoleculeProperties::tpsa), column(ref_props, &MoleculeProperties::tpsa));
  m.qed = summarise(column(props, &MoleculeProperties::qed), column(ref_props, &MoleculeProperties::qed));
  m.sa = summarise(column(props, &MoleculeProperties::sa), column(ref_props, &MoleculeProperties::sa));
  return m;
}

}  // namespace strand::chem
