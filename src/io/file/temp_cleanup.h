// Temp files and folders that must not outlive the process that made them
// (OUT-08). Every acefit temp name carries the writer's pid
// (".acefit-tmp-<pid>-..."), so a later writer can tell a stale temp of a
// dead process from one that is still being written. The registry below
// lets a SIGINT/SIGTERM handler remove the temps of this process: it is a
// fixed array of paths, and removing them uses only async-signal-safe calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/status.h"

namespace acefit {

// Registers a temp file (is_folder false) or temp folder tree (true) to be
// removed by remove_registered_temps(). Returns a slot id (>= 0), or -1 when
// the path is too long or all slots are taken (the temp is then only removed
// by the normal code paths and by a later writer's stale-temp cleanup).
int register_temp(const std::string& path, bool is_folder);
// Forgets a slot (after the temp was renamed into place or removed).
void unregister_temp(int slot);

// Removes every registered temp. Async-signal-safe: call it from a signal
// handler. Folders are removed with everything in them, a few levels deep.
void remove_registered_temps();

// Installs SIGINT, SIGTERM and SIGHUP handlers that call
// remove_registered_temps() and then re-raise the signal with its default
// action (so the exit status still says which signal ended the process).
void install_temp_cleanup_signal_handlers();

// The pid encoded in a temp name that starts with `prefix` followed by
// "<digits>-" (or "<digits>" at the end); 0 when there is none.
pid_t temp_owner_pid(const char* name, const char* prefix);

// Whether a process with this pid exists (EPERM counts as alive).
bool process_alive(pid_t pid);

// Removes regular files in `folder` named "<prefix><pid>-..." whose pid is
// not a live process and that were last modified at least `min_age_s`
// seconds ago (the age keeps a writer in another pid namespace safe). Live
// owners' temps, symlinks and folders are kept. Returns how many were
// removed; errors are not fatal to a caller that is about to write.
std::uint64_t remove_dead_owner_temp_files(const std::string& folder, const char* prefix,
                                           std::int64_t min_age_s);

// Removes folders in `folder` named "<prefix><pid>..." whose pid is not a
// live process (make-demo-checkpoints' half-made folders), with everything
// in them. Returns how many were removed.
std::uint64_t remove_dead_owner_temp_folders(const std::string& folder, const char* prefix);

// Removes a folder and everything in it (a few levels deep); ENOENT is fine.
// Async-signal-safe. Returns 0 or an errno value.
int remove_tree(const char* path);

}  // namespace acefit
