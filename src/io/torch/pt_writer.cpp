#include "io/torch/pt_writer.h"

#include <bit>
#include <cstring>
#include <limits>

#include "io/torch/torch_zip.h"

namespace acefit {

namespace {

constexpr std::size_t kDataAlignment = 64;
constexpr std::uint16_t kPaddingExtraId = 0x4246;  // "FB", the id torch.save pads with

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((value >> (8 * i)) & 0xff));
}

void put_bytes(std::vector<std::uint8_t>& out, std::string_view text) {
  for (const char c : text) out.push_back(static_cast<std::uint8_t>(c));
}

// BININT: a 4-byte signed little-endian integer.
void pickle_int(std::vector<std::uint8_t>& out, std::int64_t value) {
  out.push_back('J');
  put_u32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(value)));
}

// BINUNICODE: a 4-byte length and UTF-8 bytes.
void pickle_string(std::vector<std::uint8_t>& out, std::string_view text) {
  out.push_back('X');
  put_u32(out, static_cast<std::uint32_t>(text.size()));
  put_bytes(out, text);
}

std::vector<std::uint8_t> tensor_pickle(std::span<const std::int64_t> shape, std::int64_t numel) {
  std::vector<std::uint8_t> out;
  out.reserve(256 + 10 * shape.size());
  out.push_back(0x80);  // PROTO 2
  out.push_back(0x02);
  put_bytes(out, "ctorch._utils\n_rebuild_tensor_v2\n");
  out.push_back('(');  // MARK: the arguments of _rebuild_tensor_v2
  out.push_back('(');  // MARK: the persistent id
  pickle_string(out, "storage");
  put_bytes(out, "ctorch\nFloatStorage\n");
  pickle_string(out, "0");
  pickle_string(out, "cpu");
  pickle_int(out, numel);
  out.push_back('t');  // TUPLE
  out.push_back('Q');  // BINPERSID
  pickle_int(out, 0);  // storage offset
  out.push_back('(');
  for (const std::int64_t dim : shape) pickle_int(out, dim);
  out.push_back('t');  // size
  out.push_back('(');
  std::int64_t stride = 1;
  std::vector<std::int64_t> strides(shape.size());
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  for (const std::int64_t s : strides) pickle_int(out, s);
  out.push_back('t');   // stride
  out.push_back(0x89);  // NEWFALSE: requires_grad
  put_bytes(out, "ccollections\nOrderedDict\n");
  out.push_back(')');  // EMPTY_TUPLE
  out.push_back('R');  // REDUCE: OrderedDict() (backward hooks)
  out.push_back('t');  // TUPLE of the arguments
  out.push_back('R');  // REDUCE: _rebuild_tensor_v2(...)
  out.push_back('.');  // STOP
  return out;
}

struct CentralRecord {
  std::string name;
  std::uint32_t crc = 0;
  std::uint32_t size = 0;
  std::uint32_t local_offset = 0;
};

// A stored entry whose data starts at a multiple of kDataAlignment.
void add_entry(std::vector<std::uint8_t>& out, std::vector<CentralRecord>& records,
               const std::string& name, std::span<const std::uint8_t> data) {
  const std::size_t header_end = out.size() + 30 + name.size();
  std::size_t padding = (kDataAlignment - (header_end + 4) % kDataAlignment) % kDataAlignment;
  CentralRecord record{name, crc32_ieee(data), static_cast<std::uint32_t>(data.size()),
                       static_cast<std::uint32_t>(out.size())};
  put_u32(out, 0x04034b50);  // local file header
  put_u16(out, 20);          // version needed
  put_u16(out, 0);           // flags
  put_u16(out, 0);           // method: stored
  put_u16(out, 0);           // time
  put_u16(out, 0x21);        // date: 1980-01-01
  put_u32(out, record.crc);
  put_u32(out, record.size);
  put_u32(out, record.size);
  put_u16(out, static_cast<std::uint16_t>(name.size()));
  put_u16(out, static_cast<std::uint16_t>(4 + padding));
  put_bytes(out, name);
  put_u16(out, kPaddingExtraId);
  put_u16(out, static_cast<std::uint16_t>(padding));
  out.insert(out.end(), padding, 'Z');
  out.insert(out.end(), data.begin(), data.end());
  records.push_back(std::move(record));
}

}  // namespace

Expected<std::vector<std::uint8_t>> pt_float_tensor_bytes(std::span<const std::int64_t> shape,
                                                          std::span<const float> values,
                                                          const std::string& archive_name) {
  if (archive_name.empty() || archive_name.find('/') != std::string::npos ||
      archive_name.size() > 200) {
    return invalid_argument("pt writer: archive name must be a plain name of 1 to 200 bytes");
  }
  std::int64_t numel = 1;
  for (const std::int64_t dim : shape) {
    if (dim < 0 || (dim > 0 && numel > std::numeric_limits<std::int32_t>::max() / dim)) {
      return invalid_argument("pt writer: shape too large or negative");
    }
    numel *= dim;
  }
  if (static_cast<std::uint64_t>(numel) != values.size()) {
    return invalid_argument("pt writer: " + std::to_string(values.size()) +
                            " values for a shape of " + std::to_string(numel) + " elements");
  }
  if (values.size() * sizeof(float) > std::numeric_limits<std::uint32_t>::max() - (1u << 20)) {
    return invalid_argument("pt writer: tensor too large for a zip without zip64");
  }
  std::vector<std::uint8_t> data(values.size() * sizeof(float));
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits = std::bit_cast<std::uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) data[4 * i + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
  const std::string prefix = archive_name + "/";
  const std::vector<std::uint8_t> pickle = tensor_pickle(shape, numel);
  const std::string byteorder = "little";
  const std::string version = "3\n";

  std::vector<std::uint8_t> out;
  out.reserve(data.size() + 1024);
  std::vector<CentralRecord> records;
  add_entry(out, records, prefix + "data.pkl", pickle);
  add_entry(out, records, prefix + "byteorder",
            {reinterpret_cast<const std::uint8_t*>(byteorder.data()), byteorder.size()});
  add_entry(out, records, prefix + "data/0", data);
  add_entry(out, records, prefix + "version",
            {reinterpret_cast<const std::uint8_t*>(version.data()), version.size()});

  const auto directory_offset = static_cast<std::uint32_t>(out.size());
  for (const CentralRecord& record : records) {
    put_u32(out, 0x02014b50);  // central directory header
    put_u16(out, 20);          // version made by
    put_u16(out, 20);          // version needed
    put_u16(out, 0);
    put_u16(out, 0);
    put_u16(out, 0);
    put_u16(out, 0x21);
    put_u32(out, record.crc);
    put_u32(out, record.size);
    put_u32(out, record.size);
    put_u16(out, static_cast<std::uint16_t>(record.name.size()));
    put_u16(out, 0);  // extra
    put_u16(out, 0);  // comment
    put_u16(out, 0);  // disk
    put_u16(out, 0);  // internal attributes
    put_u32(out, 0);  // external attributes
    put_u32(out, record.local_offset);
    put_bytes(out, record.name);
  }
  const auto directory_size = static_cast<std::uint32_t>(out.size() - directory_offset);
  put_u32(out, 0x06054b50);  // end of central directory
  put_u16(out, 0);
  put_u16(out, 0);
  put_u16(out, static_cast<std::uint16_t>(records.size()));
  put_u16(out, static_cast<std::uint16_t>(records.size()));
  put_u32(out, directory_size);
  put_u32(out, directory_offset);
  put_u16(out, 0);
  return out;
}

Status write_pt_float_tensor(const std::string& path, std::span<const std::int64_t> shape,
                             std::span<const float> values, const std::string& archive_name,
                             const AtomicWriteOptions& options) {
  ACEFIT_ASSIGN(const std::vector<std::uint8_t> bytes,
                pt_float_tensor_bytes(shape, values, archive_name));
  return write_file_atomic(path, bytes, options);
}

}  // namespace acefit
