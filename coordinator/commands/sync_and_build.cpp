// SPDX-License-Identifier: MIT
#include "coordinator/cache/pack_cache.hpp"
#include "coordinator/commands/commands.hpp"
#include "coordinator/commands/loaded_selection.hpp"
#include "coordinator/report/node_logs.hpp"
#include "coordinator/report/run_history.hpp"
#include "coordinator/report/run_recorder.hpp"
#include "coordinator/report/run_report.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/run/flake_inputs.hpp"
#include "coordinator/run/lock_update.hpp"
#include "coordinator/run/node_state.hpp"
#include "coordinator/report/notify_command.hpp"
#include "coordinator/run/run_lock.hpp"
#include "coordinator/run/run_orchestrator.hpp"
#include "coordinator/run/ssh_agent_link.hpp"
#include "coordinator/view/progress_view.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/exit_code.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/unique_fd.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <fcntl.h>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace fleet::coordinator {
namespace {

// Nothing run unattended may wait for a person: whatever reads stdin (an ssh ProxyJump, a
// hook) gets end-of-file at once instead.
void detach_stdin() {
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null.valid()) {
    ::dup2(null.get(), STDIN_FILENO);
  }
}

// A run that got as far as its report, and where that report went.
struct FinishedRun {
  RunReport report;
  std::filesystem::path saved;  // empty when it could not be saved
  std::string save_error;       // why, then
};

// Saves the report in the history and --report FILE. A full disk must not take the summary
// and the notification with it: the failure is kept for both instead of thrown.
void save(FinishedRun& run, const SyncOptions& options) {
  try {
    run.saved = save_report(run.report, options.report_file);
    run.save_error.clear();
  } catch (const std::exception& e) {
    run.saved.clear();
    run.save_error = describe_error(e);
  }
}

FinishedRun deploy(const SyncOptions& options) {
  auto loaded = load_selection(options.selection);
  const FleetConfig& config = loaded.config;
  const std::string action = protocol::to_string(options.action.value_or(protocol::Action::switch_));
  // Every run takes the lock, so a person's run and the nightly one never overlap.
  RunLock lock = RunLock::acquire(default_lock_path(), options.command_line);
  if (options.unattended) {
    detach_stdin();
  }
  double started = protocol::now_seconds();
  std::string run_id = new_run_id(started);
  const auto history_dir = runs_dir();

  auto view = make_view(choose_view_mode(options.selection.json, STDERR_FILENO), loaded.nodes, std::cout, std::cerr,
                        Color::on);
  if (lock.taken_over()) {
    view->on_message("took over the run lock left by " + lock.taken_over()->describe() + ", which is no longer running");
  }
  RunRecorder recorder(run_id, loaded.nodes, started);
  NodeLogs logs(run_logs_dir(history_dir, run_id));
  recorder.set_event_listener([&logs](const protocol::Event& event) { logs.on_event(event); });
  if (loaded.inventory_upload) {
    recorder.add_transfer(*loaded.inventory_upload);
  }
  for (const auto& assignment : loaded.plan.assignments) {
    recorder.set_built_on(assignment.node, assignment.location == Location::self ? "self" : assignment.builder);
  }

  auto sources = tarball::collect_sources(config.source_dir, config.exclude);
  auto say = [&](const std::string& text) { view->on_message(text); };
  // With an inventory the source was packed already: the run builds the tree it was read from.
  auto pack = loaded.pack ? std::move(*loaded.pack) : pack_with_default_cache(sources, say);
  auto packed = std::move(pack.packed);
  view->on_message("packed " + std::to_string(packed.file_count) + " files: " + format_bytes(packed.compressed.size()) +
                   " (source " + packed.content_hash.substr(0, 12) + (pack.from_cache ? ", unchanged: from the cache" : "") +
                   ")");

  ssh::SshOptions ssh;
  ssh.connect_timeout_seconds = config.run.timeouts.connect;
  RunInputs inputs;
  inputs.job = {run_id, "", config.flake, config.nix_options, config.inventory, config.remote_builders};
  inputs.tarball = &packed;
  inputs.earlier_tar = cached_tar;
  inputs.locations = build_locations(config, loaded.plan, options.action);
  inputs.jobs = options.jobs;
  inputs.config = &config;
  inputs.action_override = options.action;
  std::vector<std::string> input_changes;
  if (options.update_inputs) {
    inputs.repack_with_update = [&](const InputUpdate& update) {
      // One build node's lock is built everywhere: it may move revisions, never redirect an input.
      const auto flake_dir = config.source_dir / config.flake;
      input_changes = check_lock_update(read_whole_file(flake_dir / "flake.lock").value_or(""), update.flake_lock,
                                        read_whole_file(flake_dir / "flake.nix").value_or(""));
      for (const auto& change : input_changes) {
        view->on_message("input " + change);
      }
      auto repacked = pack_with_flake_lock(sources, config.flake, update.flake_lock);
      remember_tarball(repacked, say);
      return repacked;
    };
  }
  if (options.skip_unchanged) {
    inputs.skip_reason = [&](const std::string& source_hash) -> std::string {
      RunReport like;
      like.run_id = run_id;
      like.config_file = config.file.string();
      like.action = action;
      for (const auto& node : loaded.nodes) {
        like.nodes[node];
      }
      auto last = last_successful_run(load_history(history_dir), like);
      if (!last || last->source_hash != source_hash) {
        return "";
      }
      std::string why = "source " + source_hash.substr(0, 12) + " (flake.lock included), action and nodes unchanged since run " +
                        last->run_id + ", which succeeded";
      view->on_message("skipped: " + why);
      return why;
    };
  }
  NodeTracker tracker(loaded.nodes);
  tracker.subscribe(recorder);
  tracker.subscribe(*view);
  auto outcome = RunOrchestrator(std::move(inputs), ssh_agent_links(ssh), tracker, recorder, *view).run();

  auto report = recorder.finish(outcome.source_hash, action, config.file.string(), protocol::now_seconds());
  report.skipped_reason = outcome.skipped;
  report.flake_lock = outcome.flake_lock;
  report.input_changes = input_changes;
  if (!logs.problem().empty()) {
    view->on_message("warning: node logs are incomplete: " + logs.problem());
  }
  FinishedRun run{std::move(report), {}, {}};
  save(run, options);
  view->finish(run.report, run.saved);
  if (!run.save_error.empty()) {
    std::cerr << "fleet: warning: the report could not be saved: " << run.save_error << '\n';
    return run;
  }
  // The run is over and recorded: old runs that cannot be removed are a warning, not its outcome.
  try {
    auto pruned = prune_history(history_dir, config.run.history.keep, config.run.history.max_age_days,
                                protocol::now_seconds(), run_id);
    if (!pruned.empty() && !options.selection.json) {
      std::cerr << "fleet: pruned " << pruned.size() << " old run" << (pruned.size() == 1 ? "" : "s") << " from the history\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "fleet: warning: old runs could not be pruned from " << history_dir.string() << ": " << describe_error(e) << '\n';
  }
  return run;
}

// --notify for a run that ended without a report (a configuration error, the lock held by
// another run, a failure before any node was contacted): an unattended run must not fail silently.
void notify_failure(const SyncOptions& options, const std::exception_ptr& failure) {
  std::string what = "an exception that is not a std::exception";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    what = describe_error(e);
  } catch (...) {
  }
  const std::string summary = "fleet sync-and-build ended before a report: " + what + "\n";
  std::string error = run_notify(options.notify, summary, "", to_int(exit_code_for(failure)), {});
  if (!error.empty()) {
    std::cerr << "fleet: warning: " << error << '\n';
  }
}

}  // namespace

int run_sync_and_build(const SyncOptions& options) {
  std::optional<FinishedRun> run;
  try {
    run = deploy(options);
  } catch (...) {
    if (!options.notify.empty()) {
      notify_failure(options, std::current_exception());
    }
    throw;
  }
  if (!options.notify.empty()) {
    std::string summary = format_summary(run->report, run->saved);
    if (!run->save_error.empty()) {
      summary += "\nthe report could not be saved: " + run->save_error + "\n";
    }
    std::string error = run_notify(options.notify, summary, run->report.run_id, run->report.exit_code(), run->saved);
    if (!error.empty()) {
      std::cerr << "fleet: warning: " << error << '\n';
      run->report.notify_error = error;
      if (run->save_error.empty()) {
        save(*run, options);
        if (!run->save_error.empty()) {
          std::cerr << "fleet: warning: the report could not record the notify command's failure: " << run->save_error << '\n';
        }
      }
    }
  }
  return run->report.exit_code();
}

}  // namespace fleet::coordinator
