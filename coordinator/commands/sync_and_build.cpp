// SPDX-License-Identifier: MIT
#include "coordinator/commands/commands.hpp"
#include "coordinator/commands/loaded_selection.hpp"
#include "coordinator/report/run_recorder.hpp"
#include "coordinator/report/run_report.hpp"
#include "coordinator/run/build_location.hpp"
#include "coordinator/run/run_orchestrator.hpp"
#include "coordinator/view/progress_view.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"

#include <iostream>
#include <unistd.h>

namespace fleet::coordinator {
int run_sync_and_build(const SyncOptions& options) {
  auto loaded = load_selection(options.selection);
  const FleetConfig& config = loaded.config;
  double started = protocol::now_seconds();
  std::string run_id = new_run_id(started);

  auto view = make_view(choose_view_mode(options.selection.json, STDERR_FILENO), loaded.nodes, std::cout, std::cerr,
                        Color::on);
  RunRecorder recorder(run_id, loaded.nodes, started);
  for (const auto& assignment : loaded.plan.assignments) {
    recorder.set_built_on(assignment.node, assignment.location == Location::self ? "self" : assignment.builder);
  }

  auto sources = tarball::collect_sources(config.source_dir, config.exclude);
  auto packed = tarball::pack(sources);
  view->on_message("packed " + std::to_string(packed.file_count) + " files: " + format_bytes(packed.compressed.size()) +
                   " (source " + packed.content_hash.substr(0, 12) + ")");

  RunInputs inputs;
  inputs.run_id = run_id;
  inputs.tarball = &packed;
  inputs.locations = build_locations(config, loaded.plan, options.action);
  inputs.flake = config.flake;
  inputs.nix_options = config.nix_options;
  inputs.jobs = options.jobs;
  inputs.config = &config;
  inputs.action_override = options.action;
  RunOrchestrator(std::move(inputs), recorder, *view).run();

  auto report = recorder.finish(packed.content_hash, options.action.empty() ? "switch" : options.action,
                                config.file.string(), protocol::now_seconds());
  auto saved = save_report(report, options.report_file);
  view->finish(report, saved);
  return report.exit_code();
}

}  // namespace fleet::coordinator
