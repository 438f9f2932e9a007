// The IDX reader and the Fashion-MNIST loader: well-formed files, every kind
// of malformed one (refused with an error naming the file, nothing read past
// the data), and the real data set that scripts/install-deps.sh installs.
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gmock/gmock.h>

#include "normkit/io/fashion_mnist.hpp"
#include "normkit/io/idx.hpp"
#include "normkit/half.hpp"
#include "normkit/io/safetensors.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "module_util.hpp"

namespace normkit::test {
namespace {

namespace fs = std::filesystem;
using io::IdxArray;

std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims, std::size_t values,
                                    std::uint8_t type = 0x08) {
  std::vector<std::uint8_t> b{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<std::uint8_t>(d >> shift));
  for (std::size_t i = 0; i < values; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
  return b;
}

void write_gzip(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void write_plain(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                               static_cast<std::streamsize>(bytes.size()));
}

TEST(Idx, ParsesShapeAndValues) {
  const std::vector<std::uint8_t> b = idx_bytes({2, 3}, 6);
  const IdxArray a = io::parse_idx(b, "mem");
  EXPECT_EQ(a.shape, (Shape{2, 3}));
  ASSERT_EQ(a.values.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(a.values[i], static_cast<std::uint8_t>(i * 7));
}

TEST(Idx, RefusesMalformedHeadersWithAnErrorThatSaysWhat) {
  const auto parse = [](const std::vector<std::uint8_t>& b) { return error_of([&] { io::parse_idx(b, "f.idx"); }); };
  EXPECT_THAT(parse({0, 0}), ::testing::HasSubstr("at least a 4-byte header"));
  EXPECT_THAT(parse({1, 0, 8, 1, 0, 0, 0, 0}), ::testing::HasSubstr("magic"));
  EXPECT_THAT(parse(idx_bytes({2}, 2, 0x0D)), ::testing::HasSubstr("value type 13 is not supported"));
  EXPECT_THAT(parse({0, 0, 8, 0}), ::testing::HasSubstr("1 to 8 dimensions"));
  EXPECT_THAT(parse({0, 0, 8, 2, 0, 0, 0, 1}), ::testing::HasSubstr("truncated header"));
  // A header that claims far more than the file holds is refused before
  // anything is allocated (4 G values).
  EXPECT_THAT(parse(idx_bytes({65536, 65536}, 10)), ::testing::HasSubstr("claims 4.29497e+09 values"));
  EXPECT_THAT(parse(idx_bytes({4, 3}, 11)), ::testing::HasSubstr("claims 12 values"));
  EXPECT_THAT(parse(idx_bytes({4, 3}, 13)), ::testing::HasSubstr("the file holds 13"));
  for (const std::string& e : {parse({0, 0}), parse(idx_bytes({4, 3}, 11))}) EXPECT_THAT(e, ::testing::HasSubstr("f.idx"));
}

TEST(Idx, ReadsGzipAndPlainFilesAlike) {
  TempDir dir;
  const std::vector<std::uint8_t> b = idx_bytes({3, 5, 2}, 30);
  write_gzip(dir.path / "a.gz", b);
  write_plain(dir.path / "a.idx", b);
  const IdxArray z = io::read_idx((dir.path / "a.gz").string());
  const IdxArray p = io::read_idx((dir.path / "a.idx").string());
  EXPECT_EQ(z.shape, (Shape{3, 5, 2}));
  EXPECT_EQ(z.shape, p.shape);
  EXPECT_EQ(z.values, p.values);
}

TEST(Idx, RefusesMissingTruncatedAndCorruptFiles) {
  TempDir dir;
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "none.gz").string()); }), ::testing::HasSubstr("no such file"));
  // A gzip stream cut in half: zlib reports the unexpected end.
  const std::vector<std::uint8_t> b = idx_bytes({100, 100}, 10000);
  write_gzip(dir.path / "full.gz", b);
  std::ifstream in(dir.path / "full.gz", std::ios::binary);
  std::vector<char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_plain(dir.path / "cut.gz", std::vector<std::uint8_t>(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "cut.gz").string()); }), ::testing::HasSubstr("cut.gz"));
  // Corrupt compressed data after a valid gzip header.
  std::vector<std::uint8_t> bad(gz.begin(), gz.end());
  for (std::size_t i = 20; i < bad.size() - 8; i += 7) bad[i] ^= 0x5A;
  write_plain(dir.path / "bad.gz", bad);
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "bad.gz").string()); }), ::testing::HasSubstr("bad.gz"));
  // A plain file whose header claims more than it holds.
  write_plain(dir.path / "short.idx", idx_bytes({10, 10}, 50));
  EXPECT_THAT(error_of([&] { io::read_idx((dir.path / "short.idx").string()); }),
              ::testing::HasSubstr("claims 100 values"));
}

// Found by fuzz/idx_fuzzer (fuzz/regressions/idx): a zero size makes the
// claim 0 whatever the other sizes are, but their product must still fit in
// 64 bits (tensor strides are made of it).
TEST(Idx, RefusesAShapeWhoseSizesOverflowEvenWithAZero) {
  const std::vector<std::uint8_t> b = idx_bytes({0, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, 0);
  EXPECT_THAT(error_of([&] { io::parse_idx(b, "zero.idx"); }),
              ::testing::HasSubstr("zero.idx: shape (0, 4294967295, 4294967295, 4294967295): more elements than"));
  EXPECT_EQ(io::parse_idx(idx_bytes({0, 28, 28}, 0), "empty").shape, (Shape{0, 28, 28}));
}

TEST(FashionMnist, MissingDataSaysHowToInstallIt) {
  TempDir dir;
  const std::string e = error_of([&] { io::load_fashion_mnist(dir.path.string()); });
  EXPECT_THAT(e, ::testing::HasSubstr("apt-get install dataset-fashion-mnist"));
  EXPECT_THAT(e, ::testing::HasSubstr("--data DIR"));
}

TEST(FashionMnist, RefusesFilesThatDoNotMatch) {
  TempDir dir;
  // 3 images but 2 labels; then images of the wrong size; then a label of 10.
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, 3 * 784));
  write_gzip(dir.path / "train-labels-idx1-ubyte.gz", idx_bytes({2}, 2));
  write_gzip(dir.path / "t10k-images-idx3-ubyte.gz", idx_bytes({1, 28, 28}, 784));
  write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_bytes({1}, 1));
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("2 labels for the 3 images"));
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({2, 27, 28}, 2 * 27 * 28));
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("(N, 28, 28)"));
  write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_bytes({2, 28, 28}, 2 * 784));
  write_gzip(dir.path / "train-labels-idx1-ubyte.gz", std::vector<std::uint8_t>{0, 0, 8, 1, 0, 0, 0, 2, 3, 10});
  EXPECT_THAT(error_of([&] { io::load_fashion_mnist(dir.path.string()); }), ::testing::HasSubstr("label 10 of image 1"));
}

// The real data set (scripts/install-deps.sh installs Debian's copy).
TEST(FashionMnist, LoadsTheDataSet) {
  const io::FashionMnist data = io::load_fashion_mnist();
  EXPECT_EQ(data.train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(data.train.labels.shape(), (Shape{60000}));
  EXPECT_EQ(data.test.images.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(data.test.labels.dtype(), DType::int64);
  // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
  for (const auto& [split, per_class] : {std::pair{&data.train, 6000}, std::pair{&data.test, 1000}}) {
    std::vector<int> counts(10, 0);
    for (std::int64_t i = 0; i < split->labels.numel(); ++i) ++counts[split->labels.data<std::int64_t>()[i]];
    for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], per_class) << "class " << c;
  }
  const float* px = data.train.images.data<float>();
  float lo = 1, hi = 0;
  double sum = 0;
  for (std::int64_t i = 0; i < data.train.images.numel(); ++i) lo = std::min(lo, px[i]), hi = std::max(hi, px[i]), sum += px[i];
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  // The training set's mean pixel is 0.286 (the figure torchvision users normalise with).
  EXPECT_NEAR(sum / static_cast<double>(data.train.images.numel()), 0.2860, 5e-4);
}


// ---- safetensors ----------------------------------------------------------

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file laid out by hand, as the format's own writers produce it.
std::vector<std::uint8_t> safetensors_bytes(const std::string& header, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

std::vector<std::uint8_t> float_bytes(const std::vector<float>& v) {
  std::vector<std::uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(Safetensors, RoundTripsAStateDictWithMetadata) {
  TempDir dir;
  nn::BatchNorm2d bn(3);
  bn.train();
  const TestTensor x = random_tensor({4, 3, 5, 5}, TestLayout::contiguous, 9, 2.0f, 3.0f);
  bn.forward(x.view);  // running statistics and num_batches_tracked move
  const nn::StateDict state = bn.state_dict();
  const fs::path path = dir.path / "bn.safetensors";
  io::save_safetensors(path.string(), state, {{"format", "pt"}});
  const io::SafetensorsContents back = io::load_safetensors(path.string());
  EXPECT_EQ(back.metadata, (io::Metadata{{"format", "pt"}}));
  ASSERT_EQ(back.tensors.size(), state.size());
  for (std::size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(back.tensors[i].first, state[i].first);
    EXPECT_EQ(back.tensors[i].second.shape(), state[i].second.shape());
    EXPECT_EQ(back.tensors[i].second.dtype(), state[i].second.dtype());
    EXPECT_EQ(std::memcmp(back.tensors[i].second.view().raw(), state[i].second.view().raw(),
                          static_cast<std::size_t>(state[i].second.numel()) * dtype_size(state[i].second.dtype())),
              0)
        << state[i].first;
  }
  // num_batches_tracked is I64 (a 0-d tensor), as PyTorch writes it.
  const std::vector<std::uint8_t> bytes = file_bytes(path);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | bytes[static_cast<std::size_t>(i)];
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  EXPECT_THAT(header, ::testing::HasSubstr("\"num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]"));
  EXPECT_EQ(header.size() % 8, 0u);  // the data starts 8-byte aligned
  nn::BatchNorm2d other(3);
  other.load_state_dict(back.tensors);
  EXPECT_EQ(other.running_mean.data<float>()[1], bn.running_mean.data<float>()[1]);
}

TEST(Safetensors, RoundTripsSixteenBitAndInt8Tensors) {
  TempDir dir;
  Tensor bf({3}, DType::bfloat16), h({2, 2}, DType::float16), q({5}, DType::int8);
  for (int i = 0; i < 3; ++i) bf.data<std::uint16_t>()[i] = float_to_bfloat16(1.5f * static_cast<float>(i) - 2);
  for (int i = 0; i < 4; ++i) h.data<std::uint16_t>()[i] = float_to_float16(0.1f * static_cast<float>(i));
  for (int i = 0; i < 5; ++i) q.data<std::int8_t>()[i] = static_cast<std::int8_t>(i * 50 - 128);
  const fs::path path = dir.path / "half.safetensors";
  io::save_safetensors(path.string(), {{"bf", bf}, {"h", h}, {"q", q}}, {});
  const io::SafetensorsContents back = io::load_safetensors(path.string());
  ASSERT_EQ(back.tensors.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const Tensor& want = i == 0 ? bf : i == 1 ? h : q;
    const Tensor& got = back.tensors[i].second;
    EXPECT_EQ(got.dtype(), want.dtype());
    EXPECT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.view().raw(), want.view().raw(), static_cast<std::size_t>(want.numel()) * dtype_size(want.dtype())), 0);
  }
  const std::vector<std::uint8_t> bytes = file_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  for (const char* name : {"\"dtype\":\"BF16\"", "\"dtype\":\"F16\"", "\"dtype\":\"I8\""})
    EXPECT_THAT(text, ::testing::HasSubstr(name));
}

TEST(Safetensors, ReadsAFileLaidOutByTheFormatsOwnRules) {
  // Keys in any order, spaces after the JSON, offsets relative to the data.
  const std::string header =
      R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   )";
  const io::SafetensorsContents c = io::parse_safetensors(safetensors_bytes(header, float_bytes({1.5f, -2.0f, 7.0f})), "mem");
  ASSERT_EQ(c.tensors.size(), 2u);
  EXPECT_EQ(c.tensors[0].first, "a");  // in the order of their data
  EXPECT_EQ(c.tensors[0].second.data<float>()[1], -2.0f);
  EXPECT_EQ(c.tensors[1].first, "b");
  EXPECT_EQ(c.tensors[1].second.data<float>()[0], 7.0f);
  EXPECT_EQ(c.metadata.at("format"), "pt");
}

TEST(Safetensors, RefusesMalformedFilesWithAnErrorThatSaysWhat) {
  const auto parse = [](const std::string& header, const std::vector<std::uint8_t>& data) {
    return error_of([&] { io::parse_safetensors(safetensors_bytes(header, data), "m.safetensors"); });
  };
  const std::vector<std::uint8_t> eight = float_bytes({1, 2});
  EXPECT_THAT(error_of([] { io::parse_safetensors(std::vector<std::uint8_t>{1, 2}, "m"); }), ::testing::HasSubstr("8-byte header length"));
  std::vector<std::uint8_t> huge = safetensors_bytes("{}", {});
  huge[5] = 1;  // a header length of 2^40: refused before anything is read or allocated
  EXPECT_THAT(error_of([&] { io::parse_safetensors(huge, "m"); }), ::testing::HasSubstr("exceeds the limit"));
  huge[5] = 0, huge[0] = 200;
  EXPECT_THAT(error_of([&] { io::parse_safetensors(huge, "m"); }), ::testing::HasSubstr("more than the file's"));
  EXPECT_THAT(parse("{not json", {}), ::testing::HasSubstr("not valid JSON"));
  EXPECT_THAT(parse("[1]", {}), ::testing::HasSubstr("JSON object"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", eight),
              ::testing::HasSubstr("dtype F64 is not supported (expected F32, BF16, F16, I64 or I8)"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), ::testing::HasSubstr("non-negative"));
  const std::vector<std::uint8_t> sixteen = float_bytes({1, 2, 3, 4});
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", sixteen), ::testing::HasSubstr("hold 8 bytes, its dtype and shape need 12"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}})", eight), ::testing::HasSubstr("needs more bytes than the file's 8"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", eight), ::testing::HasSubstr("outside the 8 bytes"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
              ::testing::HasSubstr("needs more bytes"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), ::testing::HasSubstr("after a hole"));
  EXPECT_THAT(parse(R"({"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
              ::testing::HasSubstr("inside the previous tensor"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight), ::testing::HasSubstr("cover 4 bytes"));
  EXPECT_THAT(parse(R"({"__metadata__":{"n":3}})", {}), ::testing::HasSubstr("string value"));
  EXPECT_THAT(parse(R"({"w":{"dtype":"F32","shape":[2]}})", eight), ::testing::HasSubstr("data_offsets"));
  // With a zero size the data is empty, but the other sizes' product must fit in 64 bits.
  EXPECT_THAT(parse(R"({"v":{"dtype":"F32","shape":[16384],"data_offsets":[0,65536]},)"
                    R"("w":{"dtype":"F32","shape":[0,65536,65536,65536,65536],"data_offsets":[0,0]}})",
                    std::vector<std::uint8_t>(65536)),
              ::testing::HasSubstr("tensor 'w': shape (0, 65536, 65536, 65536, 65536): more elements than"));
}

// Every prefix of a valid file, and every file with one byte changed in its
// header, is refused with an Error (or, for a changed byte that still leaves a
// valid file, parsed): never a crash or a read past the buffer (the sanitizer
// build runs this too).
TEST(Safetensors, EveryTruncationAndEveryHeaderByteChangeIsSafe) {
  nn::BatchNorm2d bn(3);
  TempDir dir;
  const fs::path path = dir.path / "bn.safetensors";
  io::save_safetensors(path.string(), bn.state_dict(), {{"format", "pt"}});
  const std::vector<std::uint8_t> whole = file_bytes(path);
  for (std::size_t n = 0; n < whole.size(); ++n) {
    const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(error_of([&] { io::parse_safetensors(cut, "cut"); }), "(no error)") << n << " bytes";
  }
  // On disk too: the truncated file is refused by load_safetensors.
  write_plain(dir.path / "cut.safetensors", std::vector<std::uint8_t>(whole.begin(), whole.end() - 5));
  EXPECT_THAT(error_of([&] { io::load_safetensors((dir.path / "cut.safetensors").string()); }),
              ::testing::HasSubstr("are outside the 51 bytes of data"));
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | whole[static_cast<std::size_t>(i)];
  for (std::size_t at = 0; at < 8 + header_length; ++at)
    for (std::uint8_t value : {std::uint8_t{0}, std::uint8_t{'9'}, std::uint8_t{'"'}, std::uint8_t{0xff}}) {
      std::vector<std::uint8_t> changed = whole;
      changed[at] = value;
      try {
        io::parse_safetensors(changed, "changed");
      } catch (const Error&) {
      }
    }
}

// A file whose tensors have the wrong dtype or shape for the module is refused
// by load_state_dict, naming the key, and the module keeps its state.
TEST(Safetensors, WrongDtypeOrShapeForTheModuleIsRefused) {
  TempDir dir;
  nn::BatchNorm2d bn(3);
  const fs::path path = dir.path / "bn.safetensors";
  nn::StateDict state = bn.state_dict();
  for (auto& [key, t] : state)
    if (key == "running_mean") t = Tensor({4});
  io::save_safetensors(path.string(), state);
  EXPECT_THAT(error_of([&] { bn.load_state_dict(io::load_safetensors(path.string()).tensors); }),
              ::testing::HasSubstr("running_mean"));
  state = bn.state_dict();
  for (auto& [key, t] : state)
    if (key == "weight") t = Tensor({3}, DType::int64);
  io::save_safetensors(path.string(), state);
  EXPECT_THAT(error_of([&] { bn.load_state_dict(io::load_safetensors(path.string()).tensors); }),
              ::testing::HasSubstr("weight"));
  EXPECT_EQ(bn.weight.value.data<float>()[0], 1.0f);
}

TEST(Safetensors, WritesAtomicallyAndRefusesBadNames) {
  TempDir dir;
  const fs::path path = dir.path / "w.safetensors";
  const Tensor a = vector_tensor({1, 2, 3});
  io::save_safetensors(path.string(), {{"a", a}});
  const std::vector<std::uint8_t> before = file_bytes(path);
  // A failed save leaves the previous file as it was, and no temporary file.
  EXPECT_THAT(error_of([&] { io::save_safetensors(path.string(), {{"a", a}, {"a", a}}); }), ::testing::HasSubstr("appears twice"));
  EXPECT_THAT(error_of([&] { io::save_safetensors(path.string(), {{"__metadata__", a}}); }), ::testing::HasSubstr("reserved"));
  EXPECT_THAT(error_of([&] { io::save_safetensors((dir.path / "no" / "x.safetensors").string(), {{"a", a}}); }),
              ::testing::HasSubstr("does not exist"));
  // Names and metadata become JSON, which must be UTF-8 (the checkpoint
  // fuzzer found a nlohmann exception escaping here).
  EXPECT_THAT(error_of([&] { io::save_safetensors(path.string(), {{"\xee\x1a", a}}); }),
              ::testing::HasSubstr("tensor names and metadata must be valid UTF-8"));
  EXPECT_THAT(error_of([&] { io::save_safetensors(path.string(), {{"a", a}}, {{"k", "\xff"}}); }),
              ::testing::HasSubstr("must be valid UTF-8"));
  EXPECT_EQ(file_bytes(path), before);
  // A successful one replaces it.
  io::save_safetensors(path.string(), {{"b", vector_tensor({4})}});
  EXPECT_EQ(io::load_safetensors(path.string()).tensors.at(0).first, "b");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace normkit::test
