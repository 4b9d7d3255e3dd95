// The audio outputs of a run (`acefit generate`): the destination is checked before
// any work starts, a batch is written all or nothing, and a stream (a
// character device, a FIFO, stdout) is written in place, never replaced.
// See docs/AUDIO.md ("Output of acefit generate").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/audio/audio_file.h"
#include "io/file/atomic_file.h"

namespace acefit {

struct OutputPlan {
  std::vector<std::string> paths;  // one per batch item
  bool stream = false;             // --out is written as a stream
  bool stream_is_stdout = false;   // ... and it is our stdout: report on stderr
  bool no_overwrite = false;
  AudioFormat format = AudioFormat::wav16;
};

// PATH, or PATH with -1, -2, ... before the extension when `numbered`
// (the user asked for a batch of more than one, whatever ran in the end).
std::string output_path(const std::string& path, int index, bool numbered);

// Checks the destination of `batch` items of `frames` stereo 48 kHz frames
// each: the folder exists and is writable, no item name is a folder (or,
// with no_overwrite, exists at all), a stream gets exactly one item and is
// not a socket or block device, and the free space holds every item.
// `fs` (nullptr: POSIX) is the shim of atomic_file.h.
// Item names are numbered when `numbered` (see output_path).
Expected<OutputPlan> plan_outputs(const std::string& out, int batch, bool numbered,
                                  AudioFormat format, std::uint64_t frames, bool no_overwrite,
                                  FileSystem* fs = nullptr);

struct OutputReport {
  std::vector<std::string> written;  // exactly the paths that now hold new audio
  Status status;
};

// Writes the items (make_item(b) builds item b): every item goes to its
// temp file first, and only when all are complete are they renamed into
// place. A failure before that leaves every old file as it was; a failure
// while renaming (rare: the temps are complete) reports exactly which
// items were written, and with no_overwrite removes them again (their
// names were free). `before_commit` runs between the two phases.
OutputReport write_outputs(const OutputPlan& plan, int batch,
                           const std::function<AudioBuffer(int)>& make_item,
                           FileSystem* fs = nullptr,
                           const std::function<void()>& before_commit = {});

}  // namespace acefit
