#include "io/audio/audio_outputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "io/file/atomic_file.h"
#include "io/file/output_stream.h"

namespace acefit {

namespace {

std::string folder_of(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

std::string output_path(const std::string& path, int index, bool numbered) {
  if (!numbered) return path;
  const std::filesystem::path p(path);
  const std::string stem = p.stem().string() + "-" + std::to_string(index + 1);
  return (p.parent_path() / (stem + p.extension().string())).string();
}

Expected<OutputPlan> plan_outputs(const std::string& out, int batch, bool numbered,
                                  AudioFormat format, std::uint64_t frames, bool no_overwrite,
                                  FileSystem* fs) {
  OutputPlan plan;
  plan.format = format;
  plan.no_overwrite = no_overwrite;
  if (out.empty()) return invalid_argument("--out must not be empty");
  const OutputPathInfo target = classify_output_path(out);
  if (target.kind == OutputPathKind::stream) {
    if (batch > 1) {
      return invalid_argument("--out '" + out + "' is a stream (a device, FIFO or stdout), " +
                              "which takes one item, not a batch of " + std::to_string(batch));
    }
    if (!target.is_stdout && ::access(out.c_str(), W_OK) != 0) {
      return invalid_argument("--out '" + out + "' is a stream that this user cannot write");
    }
    plan.stream = true;
    plan.stream_is_stdout = target.is_stdout;
    plan.paths.push_back(out);
    return plan;
  }
  const std::string folder = folder_of(out);
  ACEFIT_TRY(check_output_folder(folder, fs));
  for (int b = 0; b < batch; ++b) {
    const std::string path = output_path(out, b, numbered);
    const OutputPathInfo item = numbered ? classify_output_path(path) : target;
    if (item.kind == OutputPathKind::folder) {
      return invalid_argument("--out '" + path + "' is a folder; name a file");
    }
    if (item.kind != OutputPathKind::file) {
      return invalid_argument("cannot write '" + path + "': " +
                              (item.reason.empty() ? "it is not a regular file" : item.reason));
    }
    struct stat info {};
    if (no_overwrite && ::lstat(path.c_str(), &info) == 0) {
      return invalid_argument("'" + path + "' exists and --no-overwrite is set");
    }
    plan.paths.push_back(path);
  }
  const std::uint64_t item_bytes = planned_audio_file_bytes(frames, 2, 48000, format);
  ACEFIT_TRY(check_output_space(folder, item_bytes * static_cast<std::uint64_t>(batch), fs));
  return plan;
}

namespace {

OutputReport write_stream(const OutputPlan& plan, const AudioBuffer& audio) {
  OutputReport report;
  const std::string& path = plan.paths.front();
  auto fd = open_output_stream(path, plan.stream_is_stdout);
  if (!fd.ok()) {
    report.status = fd.status();
    return report;
  }
  const ByteSink sink = [&](std::span<const std::uint8_t> bytes) {
    return write_fd_fully(*fd, bytes, path);
  };
  auto written = encode_audio(audio, plan.format, sink, path);
  const int close_result = ::close(*fd);
  if (!written.ok()) {
    report.status = written.status();
  } else if (close_result != 0) {
    report.status = Status(ErrorCode::io, "cannot write '" + path + "': close failed");
  } else {
    report.written.push_back(path);
  }
  return report;
}

}  // namespace

OutputReport write_outputs(const OutputPlan& plan, int batch,
                           const std::function<AudioBuffer(int)>& make_item, FileSystem* fs,
                           const std::function<void()>& before_commit) {
  if (plan.stream) return write_stream(plan, make_item(0));
  OutputReport report;
  AtomicWriteOptions options;
  options.replace_existing = !plan.no_overwrite;
  options.fs = fs;
  // Phase 1: every item complete and fsynced under its temp name.
  std::vector<AtomicFileWriter> staged;
  for (int b = 0; b < batch; ++b) {
    const std::string& path = plan.paths[static_cast<std::size_t>(b)];
    auto writer = AtomicFileWriter::create(path, options);
    if (!writer.ok()) {
      report.status = writer.status();
      return report;  // the staged writers remove their temps
    }
    const ByteSink sink = [&](std::span<const std::uint8_t> bytes) { return writer->write(bytes); };
    auto encoded = encode_audio(make_item(b), plan.format, sink, path);
    if (!encoded.ok()) {
      report.status = encoded.status();
      return report;
    }
    if (Status finished = writer->finish(); !finished.ok()) {
      report.status = finished;
      return report;
    }
    staged.push_back(std::move(*writer));
  }
  if (before_commit) before_commit();
  // Phase 2: rename (or, with no_overwrite, link) each into place.
  for (AtomicFileWriter& writer : staged) {
    const Status committed = writer.commit();
    if (writer.committed()) report.written.push_back(writer.target_path());
    if (committed.ok()) continue;
    report.status = committed;
    if (plan.no_overwrite) {
      // The names were free before, so removing what we linked restores
      // the folder as it was.
      for (const std::string& path : report.written)
        (void)(fs ? *fs : posix_file_system()).unlink(path);
      report.written.clear();
    }
    return report;
  }
  return report;
}

}  // namespace acefit
