#include "io/torch/torch_pickle.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <new>

namespace acefit {
namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxPickleBytes = 1 << 20;

struct Value;
using ValuePtr = std::shared_ptr<const Value>;

// Values are immutable once built, so memo references can never form a
// cycle; containers the tensor pickle does not need (lists, dicts) are kept
// as empty placeholders and items added to them are dropped.
struct Value {
  enum class Kind {
    none,
    boolean,
    integer,
    text,
    tuple,
    list,
    dict,
    global,
    persid,
    reduce,
    other
  };
  Kind kind = Kind::none;
  std::int64_t integer = 0;
  std::string text;  // a string, or "module name" for a global
  std::vector<ValuePtr> items;
  int depth = 1;
};

class Machine {
 public:
  Machine(std::span<const std::uint8_t> bytes, const std::string& origin)
      : bytes_(bytes), origin_(origin) {}

  Expected<ValuePtr> run();

 private:
  Status fail(const std::string& what) const {
    char where[32];
    std::snprintf(where, sizeof(where), " at offset %zu", op_offset_);
    return Status(ErrorCode::corrupt, "pickle '" + origin_ + "': " + what + where);
  }
  bool take(std::size_t n, const std::uint8_t*& out) {
    if (bytes_.size() - pos_ < n) return false;
    out = bytes_.data() + pos_;
    pos_ += n;
    return true;
  }
  std::uint64_t little(const std::uint8_t* p, int n) const {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  Status push(Value value) {
    if (value.depth > kMaxDepth) return fail("nesting deeper than 64");
    stack_.push_back(std::make_shared<const Value>(std::move(value)));
    return {};
  }
  Expected<ValuePtr> pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      return fail("stack underflow");
    }
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Expected<std::vector<ValuePtr>> pop_to_mark() {
    if (marks_.empty()) return fail("no MARK on the stack");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  static Value make(Value::Kind kind, std::vector<ValuePtr> items) {
    Value v;
    v.kind = kind;
    for (const auto& item : items) v.depth = std::max(v.depth, item->depth + 1);
    v.items = std::move(items);
    return v;
  }
  Status push_text(std::size_t length_bytes) {
    const std::uint8_t* p = nullptr;
    if (!take(length_bytes, p)) return fail("truncated string length");
    const std::uint64_t n = little(p, static_cast<int>(length_bytes));
    if (n > bytes_.size() - pos_) return fail("string runs past the end");
    Value v;
    v.kind = Value::Kind::text;
    v.text.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return push(std::move(v));
  }
  Expected<std::string> line() {
    const std::size_t start = pos_;
    while (pos_ < bytes_.size() && bytes_[pos_] != '\n') ++pos_;
    if (pos_ == bytes_.size()) return fail("unterminated GLOBAL line");
    ++pos_;
    return std::string(reinterpret_cast<const char*>(bytes_.data() + start), pos_ - 1 - start);
  }
  Status memo_put(std::uint64_t index) {
    if (stack_.empty()) return fail("memo store with an empty stack");
    memo_[index] = stack_.back();
    return {};
  }
  Status memo_get(std::uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) return fail("memo index " + std::to_string(index) + " is not set");
    stack_.push_back(it->second);
    return {};
  }
  Status step(std::uint8_t op);

  std::span<const std::uint8_t> bytes_;
  const std::string& origin_;
  std::size_t pos_ = 0;
  std::size_t op_offset_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::map<std::uint64_t, ValuePtr> memo_;
  bool stopped_ = false;
};

Status Machine::step(std::uint8_t op) {
  using K = Value::Kind;
  const std::uint8_t* p = nullptr;
  auto need = [&](std::size_t n) { return take(n, p); };
  switch (op) {
    case 0x80:  // PROTO
      if (!need(1)) return fail("truncated PROTO");
      if (p[0] < 2 || p[0] > 5) return fail("pickle protocol " + std::to_string(p[0]));
      return {};
    case 0x95:  // FRAME
      if (!need(8)) return fail("truncated FRAME");
      return {};
    case 'c': {  // GLOBAL
      ACEFIT_ASSIGN(std::string module, line());
      ACEFIT_ASSIGN(std::string name, line());
      Value v;
      v.kind = K::global;
      v.text = module + " " + name;
      return push(std::move(v));
    }
    case 0x93: {  // STACK_GLOBAL
      ACEFIT_ASSIGN(ValuePtr name, pop());
      ACEFIT_ASSIGN(ValuePtr module, pop());
      if (name->kind != K::text || module->kind != K::text)
        return fail("STACK_GLOBAL of non-strings");
      Value v;
      v.kind = K::global;
      v.text = module->text + " " + name->text;
      return push(std::move(v));
    }
    case 'q':  // BINPUT
      if (!need(1)) return fail("truncated BINPUT");
      return memo_put(p[0]);
    case 'r':  // LONG_BINPUT
      if (!need(4)) return fail("truncated LONG_BINPUT");
      return memo_put(little(p, 4));
    case 0x94:  // MEMOIZE
      return memo_put(memo_.size());
    case 'h':  // BINGET
      if (!need(1)) return fail("truncated BINGET");
      return memo_get(p[0]);
    case 'j':  // LONG_BINGET
      if (!need(4)) return fail("truncated LONG_BINGET");
      return memo_get(little(p, 4));
    case '(':  // MARK
      marks_.push_back(stack_.size());
      return {};
    case 't': {  // TUPLE
      ACEFIT_ASSIGN(std::vector<ValuePtr> items, pop_to_mark());
      return push(make(K::tuple, std::move(items)));
    }
    case ')':  // EMPTY_TUPLE
      return push(make(K::tuple, {}));
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      std::vector<ValuePtr> items(static_cast<std::size_t>(op - 0x84));
      for (std::size_t i = items.size(); i-- > 0;) {
        ACEFIT_ASSIGN(items[i], pop());
      }
      return push(make(K::tuple, std::move(items)));
    }
    case ']':  // EMPTY_LIST
      return push(make(K::list, {}));
    case '}':  // EMPTY_DICT
      return push(make(K::dict, {}));
    case 'a':    // APPEND
    case 's': {  // SETITEM
      const int n = op == 'a' ? 1 : 2;
      for (int i = 0; i < n; ++i) ACEFIT_TRY(pop().status());
      if (stack_.empty()) return fail("APPEND/SETITEM without a container");
      return {};
    }
    case 'e':    // APPENDS
    case 'u': {  // SETITEMS
      ACEFIT_TRY(pop_to_mark().status());
      if (stack_.empty()) return fail("APPENDS/SETITEMS without a container");
      return {};
    }
    case 'b':  // BUILD: state applied to the object; the object stays
      ACEFIT_TRY(pop().status());
      if (stack_.empty()) return fail("BUILD without an object");
      return {};
    case '0':  // POP
      return pop().status();
    case '2':  // DUP
      if (stack_.empty()) return fail("DUP of an empty stack");
      stack_.push_back(stack_.back());
      return {};
    case '1':  // POP_MARK
      return pop_to_mark().status();
    case 'X':  // BINUNICODE
    case 'T':  // BINSTRING
    case 'B':  // BINBYTES
      return push_text(4);
    case 0x8c:  // SHORT_BINUNICODE
    case 'U':   // SHORT_BINSTRING
    case 'C':   // SHORT_BINBYTES
      return push_text(1);
    case 'J':
    case 'K':
    case 'M': {  // BININT, BININT1, BININT2
      const int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
      if (!need(static_cast<std::size_t>(n))) return fail("truncated integer");
      Value v;
      v.kind = K::integer;
      const std::uint64_t raw = little(p, n);
      v.integer = op == 'J' ? static_cast<std::int32_t>(raw) : static_cast<std::int64_t>(raw);
      return push(std::move(v));
    }
    case 0x8a: {  // LONG1
      if (!need(1)) return fail("truncated LONG1");
      const std::size_t n = p[0];
      if (n > 8) return fail("LONG1 of " + std::to_string(n) + " bytes");
      if (!need(n)) return fail("truncated LONG1");
      Value v;
      v.kind = K::integer;
      std::uint64_t raw = n > 0 ? little(p, static_cast<int>(n)) : 0;
      if (n > 0 && n < 8 && (p[n - 1] & 0x80)) raw |= ~std::uint64_t{0} << (8 * n);
      v.integer = static_cast<std::int64_t>(raw);
      return push(std::move(v));
    }
    case 'G':  // BINFLOAT
      if (!need(8)) return fail("truncated BINFLOAT");
      return push(make(K::other, {}));
    case 'N':
      return push(make(K::none, {}));
    case 0x88:
    case 0x89: {
      Value v;
      v.kind = K::boolean;
      v.integer = op == 0x88;
      return push(std::move(v));
    }
    case 'Q': {  // BINPERSID
      ACEFIT_ASSIGN(ValuePtr pid, pop());
      return push(make(K::persid, {pid}));
    }
    case 'R':     // REDUCE
    case 0x81: {  // NEWOBJ
      ACEFIT_ASSIGN(ValuePtr args, pop());
      ACEFIT_ASSIGN(ValuePtr callable, pop());
      if (args->kind != K::tuple) return fail("REDUCE arguments are not a tuple");
      return push(make(K::reduce, {callable, args}));
    }
    case '.':  // STOP
      stopped_ = true;
      return {};
    default: {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", op);
      return fail(std::string("unsupported pickle opcode ") + hex);
    }
  }
}

Expected<ValuePtr> Machine::run() {
  while (!stopped_) {
    if (pos_ >= bytes_.size()) return fail("no STOP opcode");
    op_offset_ = pos_;
    ACEFIT_TRY(step(bytes_[pos_++]));
  }
  if (pos_ != bytes_.size()) return fail("trailing bytes after STOP");
  if (stack_.size() != 1 || !marks_.empty())
    return fail("STOP with a stack of " + std::to_string(stack_.size()));
  return stack_.back();
}

bool int_tuple(const Value& v, std::vector<std::int64_t>& out) {
  if (v.kind != Value::Kind::tuple) return false;
  out.clear();
  for (const auto& item : v.items) {
    if (item->kind != Value::Kind::integer) return false;
    out.push_back(item->integer);
  }
  return true;
}

}  // namespace

Expected<PickledTensor> parse_tensor_pickle(std::span<const std::uint8_t> bytes,
                                            const std::string& origin) {
  using K = Value::Kind;
  try {
    if (bytes.size() > kMaxPickleBytes) {
      return Status(ErrorCode::corrupt, "pickle '" + origin + "' is larger than 1 MiB");
    }
    Machine machine(bytes, origin);
    ACEFIT_ASSIGN(const ValuePtr result, machine.run());
    auto bad = [&](const std::string& what) {
      return Status(ErrorCode::corrupt, "pickle '" + origin + "': " + what);
    };
    if (result->kind != K::reduce || result->items[0]->kind != K::global ||
        result->items[0]->text != "torch._utils _rebuild_tensor_v2") {
      return bad("does not hold a single tensor (torch._utils._rebuild_tensor_v2)");
    }
    const Value& args = *result->items[1];
    if (args.items.size() < 4 || args.items[0]->kind != K::persid) {
      return bad("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
    }
    const Value& pid = *args.items[0]->items[0];
    if (pid.kind != K::tuple || pid.items.size() != 5 || pid.items[0]->kind != K::text ||
        pid.items[0]->text != "storage" || pid.items[1]->kind != K::global ||
        pid.items[2]->kind != K::text || pid.items[3]->kind != K::text ||
        pid.items[4]->kind != K::integer) {
      return bad("storage reference is not ('storage', type, key, location, numel)");
    }
    PickledTensor tensor;
    const std::string& type = pid.items[1]->text;
    if (type.rfind("torch ", 0) != 0) return bad("storage type '" + type + "' is not torch's");
    tensor.storage_type = type.substr(6);
    tensor.storage_key = pid.items[2]->text;
    tensor.location = pid.items[3]->text;
    tensor.storage_numel = pid.items[4]->integer;
    if (args.items[1]->kind != K::integer) return bad("storage offset is not an integer");
    tensor.storage_offset = args.items[1]->integer;
    if (!int_tuple(*args.items[2], tensor.shape)) return bad("size is not a tuple of integers");
    if (!int_tuple(*args.items[3], tensor.stride)) return bad("stride is not a tuple of integers");
    return tensor;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "pickle '" + origin + "': out of memory");
  }
}

}  // namespace acefit
