// Generates the tokenizer files of the built-in demo model (resources/demo/tokenizer/{vocab.json, merges.txt} and
// resources/demo/tokenizer_2/spiece.model) from the small prompt corpus below. Run once; the outputs are committed
// and compiled into the `dype` binaries (core/pipeline/demo_model.cpp), so this program is not part of the build.
//
//   g++ -std=c++17 -O2 resources/demo/make_demo_tokenizers.cpp -lsentencepiece_train -lsentencepiece \
//       -o /tmp/make_demo_tokenizers && /tmp/make_demo_tokenizers resources/demo
//
// CLIP part: byte-level BPE in the layout of OpenAI CLIP's files — vocabulary = the 256 byte characters, the same
// with "</w>", one entry per merge, then <|startoftext|> and <|endoftext|>; merges learned greedily (most frequent
// adjacent pair, ties broken by the pair's text) on the corpus words. T5 part: a SentencePiece unigram model with
// T5's special ids (<pad> 0, </s> 1, <unk> 2, no BOS) and the default nmt_nfkc normaliser.
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* kCorpus = R"(a lighthouse at dusk on a rocky coast, waves crashing, dramatic clouds
a photo of a cat sleeping on a wooden table near a sunny window
a misty forest with tall pine trees and a narrow path, morning light
a castle on a hill at sunset, highly detailed, golden hour
a snowy village at night, warm windows, falling snow, quiet street
portrait of an old fisherman with a grey beard, soft studio lighting
a red apple on a wooden table, still life, oil painting
an ancient stone bridge over a misty river in the mountains, photographed at dawn with soft light
a futuristic city skyline with flying cars and neon signs, rain, reflections
a bowl of ramen with an egg, steam rising, close-up food photography
a field of sunflowers under a blue sky with white clouds, summer afternoon
an astronaut riding a horse on the moon, cinematic, wide angle
a cozy library with tall bookshelves, a fireplace and a leather armchair
a watercolor painting of a harbor with small boats and colorful houses
a macro photo of a dragonfly on a green leaf with morning dew
a desert landscape with red rocks and a winding road, long shadows
a mountain lake reflecting snowy peaks, crystal clear water, panorama
a vintage car parked in front of a diner at night, 1950s style
a dense tropical jungle with a hidden waterfall and exotic birds
an underwater coral reef with fish of many colors, sun rays from above
a medieval market square full of people, banners and stalls
a black and white photograph of a jazz musician playing the saxophone
a small wooden cabin in a snowy forest, smoke from the chimney, northern lights
a bustling train station in the rain, people with umbrellas, 35mm film
a highly detailed map of a fantasy kingdom with rivers, forests and castles
a glass of red wine on a marble counter, candle light, bokeh
a fox in the snow looking at the camera, wildlife photography, 4k
a children's book illustration of a bear reading a book under a tree
a spaceship orbiting a ringed planet, stars and nebula in the background
a japanese garden with a red bridge, koi pond and cherry blossoms in spring
an abstract painting with bold shapes, bright colors and thick brush strokes
a street food stall in bangkok at night, lanterns, smoke, vibrant colors
the ruins of a roman temple at sunrise, columns, long shadows, 8k
a hot air balloon festival over green hills, early morning, dozens of balloons
a lonely tree on a hill under the milky way, long exposure
a steampunk workshop with brass gears, tools and glowing lamps
a golden retriever puppy playing in autumn leaves, shallow depth of field
a lighthouse keeper's room with a telescope, maps and an old radio
ultra high resolution landscape, 16 megapixels, sharp details everywhere
dynamic position extrapolation lets diffusion transformers paint very large images
a portrait of a woman with freckles and red hair, natural light, 85mm lens
a cup of coffee with latte art on a rustic wooden table, top view
a storm over the ocean with lightning, huge waves and a small ship
a greenhouse full of tropical plants, sunlight through the glass roof
an isometric view of a tiny island with a house, trees and a dock
a knight in shining armor standing in a field of flowers, epic fantasy art
a bright kitchen with white tiles, fresh vegetables and copper pans
a narrow alley in venice with laundry lines and a gondola on the canal
the surface of mars with a rover, dust, distant hills, pale sky
a colorful parrot perched on a branch, feathers in sharp detail
a snowy owl flying over a frozen lake at twilight
one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9
red orange yellow green blue purple pink brown black white grey gold silver
photo, painting, drawing, sketch, render, illustration, cinematic, realistic, detailed, beautiful
it's a dog's life, they're here, we've been there, I'm sure you'll see, he'd go
)";

// GPT-2 / CLIP bytes_to_unicode: printable stand-ins for the 256 byte values, as UTF-8.
std::vector<std::string> byte_chars() {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<int> cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  std::vector<std::string> out(256);
  for (std::size_t i = 0; i < bs.size(); ++i) {
    const int cp = cs[i];
    std::string u;
    if (cp < 0x80) {
      u.push_back(static_cast<char>(cp));
    } else {
      u.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[bs[i]] = u;
  }
  return out;
}

// CLIP-like pre-tokenisation for the ASCII corpus: letter runs, single digits, punctuation runs, and the
// contractions 's 't 're 've 'm 'll 'd.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string s;
  for (char c : text) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  static const char* contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    bool matched = false;
    for (const char* k : contractions) {
      const std::size_t len = std::char_traits<char>::length(k);
      if (s.compare(i, len, k) == 0) {
        out.push_back(k);
        i += len;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    std::size_t j = i + 1;
    if (std::isalpha(c)) {
      while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    } else if (!std::isdigit(c)) {
      while (j < s.size() && !std::isalnum(static_cast<unsigned char>(s[j])) &&
             !std::isspace(static_cast<unsigned char>(s[j])))
        ++j;
    }
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

void write_clip(const std::string& dir, int merges_wanted) {
  const auto bc = byte_chars();
  std::map<std::vector<std::string>, int> word_freq;
  for (const auto& w : words(kCorpus)) {
    std::vector<std::string> sym;
    for (unsigned char b : w) sym.push_back(bc[b]);
    sym.back() += "</w>";
    ++word_freq[sym];
  }
  std::vector<std::pair<std::vector<std::string>, int>> corpus(word_freq.begin(), word_freq.end());
  std::vector<std::pair<std::string, std::string>> merges;
  for (int m = 0; m < merges_wanted; ++m) {
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& [sym, f] : corpus)
      for (std::size_t i = 0; i + 1 < sym.size(); ++i) pairs[{sym[i], sym[i + 1]}] += f;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;  // map order breaks ties by text
    const auto [a, b] = best->first;
    merges.push_back(best->first);
    for (auto& [sym, f] : corpus) {
      std::vector<std::string> next;
      for (std::size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
          next.push_back(a + b);
          ++i;
        } else {
          next.push_back(sym[i]);
        }
      }
      sym = std::move(next);
    }
  }
  // Vocabulary in CLIP's order: byte chars (in bytes_to_unicode order), the same + </w>, merges, specials.
  std::vector<std::string> order;
  {
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    for (int b = 0; b < 256; ++b)
      if (std::find(bs.begin(), bs.end(), b) == bs.end()) bs.push_back(b);
    for (int b : bs) order.push_back(bc[b]);
    for (int b : bs) order.push_back(bc[b] + "</w>");
  }
  for (const auto& [a, b] : merges) order.push_back(a + b);
  order.push_back("<|startoftext|>");
  order.push_back("<|endoftext|>");
  nlohmann::ordered_json vocab;
  for (std::size_t i = 0; i < order.size(); ++i) vocab[order[i]] = i;
  std::ofstream(dir + "/tokenizer/vocab.json") << vocab.dump() << "\n";
  std::ofstream mf(dir + "/tokenizer/merges.txt");
  mf << "#version: 0.2\n";
  for (const auto& [a, b] : merges) mf << a << " " << b << "\n";
  std::cout << "CLIP: " << order.size() << " vocabulary entries, " << merges.size() << " merges\n";
}

class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  explicit CorpusIterator(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) lines_.push_back(line);
  }
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  std::vector<std::string> lines_;
  std::size_t i_ = 0;
};

void write_t5(const std::string& dir, int vocab_size) {
  CorpusIterator it(kCorpus);
  std::string model;
  const std::unordered_map<std::string, std::string> args = {{"model_type", "unigram"},
                                                             {"vocab_size", std::to_string(vocab_size)},
                                                             {"hard_vocab_limit", "false"},
                                                             {"character_coverage", "1.0"},
                                                             {"pad_id", "0"},
                                                             {"eos_id", "1"},
                                                             {"unk_id", "2"},
                                                             {"bos_id", "-1"},
                                                             {"pad_piece", "<pad>"},
                                                             {"eos_piece", "</s>"},
                                                             {"unk_piece", "<unk>"},
                                                             {"num_threads", "1"},
                                                             {"seed_sentencepiece_size", "100000"},
                                                             {"shuffle_input_sentence", "false"},
                                                             {"minloglevel", "1"}};
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (!status.ok()) {
    std::cerr << "sentencepiece training failed: " << status.ToString() << "\n";
    std::exit(1);
  }
  std::ofstream(dir + "/tokenizer_2/spiece.model", std::ios::binary) << model;
  std::cout << "T5: spiece.model, " << model.size() << " bytes\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_demo_tokenizers OUTPUT_DIR (holding tokenizer/ and tokenizer_2/)\n";
    return 1;
  }
  const std::string dir = argv[1];
  write_clip(dir, 600);
  write_t5(dir, 400);
  return 0;
}
