// swarmsim-gui: watch a swarm form, route, rebalance and fail, live or from a trace (docs/gui.md).
//
//   swarmsim-gui SCENARIO.json [--set PATH=VALUE]...     run it live (in a child process)
//   swarmsim-gui RUN_DIR                                 replay `swarmsim run --out RUN_DIR`
//   ... --screenshot FILE.png [--at T] [--size WxH]      render at simulated time T, write a PNG, exit
//   swarmsim-gui --emit-events SCENARIO.json [--set ...] (internal) run and stream events on stdout
//
// Exit codes: 0 fine; 1 no window could be opened or the PNG not written; 2 bad input (the error
// is printed on stderr and, with --screenshot, also rendered into the PNG).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb_image_write.h>

#include "gui/app.hpp"
#include "gui/event_stream.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace {

using namespace swarmsim;

constexpr const char* kUsage =
    "usage: swarmsim-gui SCENARIO.json|RUN_DIR [--set PATH=VALUE]... [--screenshot FILE.png [--at T] [--size WxH]]\n"
    "                    [--speed X] [--paused] [--select NODE]\n"
    "  SCENARIO.json  run the scenario live (a child process streams its events)\n"
    "  RUN_DIR        replay a run directory written by `swarmsim run --out RUN_DIR`\n"
    "  --set P=V      scenario override, as `swarmsim run --set`\n"
    "  --screenshot F render headlessly (e.g. under xvfb-run) at simulated time T and write F as PNG\n"
    "  --at T         simulated time of the screenshot in seconds (default: the end of the run)\n"
    "  --size WxH     window size in pixels (default 1280x800)\n"
    "  --speed X      playback speed, simulated seconds per second (default 1)\n"
    "  --select NODE  open the Node tab on host NODE (a server's or client's name)\n";

struct Options {
  std::string input;
  std::vector<sim::Override> overrides;
  std::string screenshot;
  double at = -1.0;
  int width = 1280, height = 800;
  float speed = 1.0f;
  bool paused = false;
  bool emit = false;
  std::string select;  ///< a host to show in the Node tab
};

/// The live child: runs the scenario and writes event_stream.hpp's lines on stdout.
int emit_events(const Options& o) {
  // Events go to the original stdout; anything else the engine prints goes to stderr.
  const int events_fd = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  FILE* out = ::fdopen(events_fd, "w");
  if (!out) {
    std::perror("swarmsim-gui --emit-events: fdopen");
    return 1;
  }
  static char buffer[1 << 16];
  std::setvbuf(out, buffer, _IOFBF, sizeof buffer);
  try {
    const sim::Scenario sc = sim::load_scenario_file(o.input, o.overrides);
    sim::SwarmSimulation simulation(sc, sim::make_cost_model(sc));
    gui::EventStreamWriter writer(sc, [out](const std::string& line) {
      std::fwrite(line.data(), 1, line.size(), out);
      std::fputc('\n', out);
    });
    writer.connect(simulation.signals());
    sim::RunOptions options;
    options.progress = sim::RunOptions::Progress::Never;
    const sim::RunReport report = simulation.run(options);
    writer.finish(report.simulated_time);
    std::fflush(out);
    return 0;
  } catch (const sim::ScenarioError& e) {
    for (const sim::Diagnostic& d : e.diagnostics()) std::cerr << d.str() << '\n';
    if (e.diagnostics().empty()) std::cerr << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << o.input << ": " << e.what() << '\n';
    return 1;
  }
}

bool parse_args(int argc, char** argv, Options& o, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        error = std::string(flag) + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--emit-events") {
      const char* v = value("--emit-events");
      if (!v) return false;
      o.emit = true;
      o.input = v;
    } else if (a == "--set") {
      const char* v = value("--set");
      if (!v) return false;
      try {
        o.overrides.push_back(sim::parse_override(v));
      } catch (const std::exception& e) {
        error = std::string("--set ") + v + ": " + e.what();
        return false;
      }
    } else if (a == "--screenshot") {
      const char* v = value("--screenshot");
      if (!v) return false;
      o.screenshot = v;
    } else if (a == "--at") {
      const char* v = value("--at");
      if (!v) return false;
      char* end = nullptr;
      o.at = std::strtod(v, &end);
      if (!end || *end || o.at < 0) {
        error = std::string("--at ") + v + ": expected a time in seconds, not negative";
        return false;
      }
    } else if (a == "--size") {
      const char* v = value("--size");
      if (!v) return false;
      if (std::sscanf(v, "%dx%d", &o.width, &o.height) != 2 || o.width < 320 || o.height < 240 || o.width > 8192 ||
          o.height > 8192) {
        error = std::string("--size ") + v + ": expected WxH, at least 320x240";
        return false;
      }
    } else if (a == "--speed") {
      const char* v = value("--speed");
      if (!v) return false;
      o.speed = std::strtof(v, nullptr);
      if (!(o.speed >= 0.1f && o.speed <= 1000.0f)) {
        error = std::string("--speed ") + v + ": expected 0.1 to 1000";
        return false;
      }
    } else if (a == "--paused") {
      o.paused = true;
    } else if (a == "--select") {
      const char* v = value("--select");
      if (!v) return false;
      o.select = v;
    } else if (!a.empty() && a[0] == '-') {
      error = "unknown option " + a;
      return false;
    } else if (o.input.empty()) {
      o.input = a;
    } else {
      error = "more than one input (" + o.input + ", " + a + ")";
      return false;
    }
  }
  return true;
}

/// Reads the back buffer and writes it as an RGB PNG, atomically (temporary file + rename).
bool write_png(const std::string& path, int w, int h, std::string& error) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(w) * h * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  const std::filesystem::path target(path);
  const std::filesystem::path tmp = target.string() + ".tmp-" + std::to_string(::getpid());
  stbi_flip_vertically_on_write(1);  // OpenGL's rows go bottom-up
  std::error_code ec;
  if (!stbi_write_png(tmp.string().c_str(), w, h, 3, pixels.data(), w * 3)) {
    error = path + ": cannot write the PNG";
    std::filesystem::remove(tmp, ec);  // no exception: there may be nothing to remove
    return false;
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    error = path + ": " + ec.message();
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

void glfw_error(int code, const char* text) { std::cerr << "swarmsim-gui: GLFW error " << code << ": " << text << '\n'; }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string arg_error;
  if (!parse_args(argc, argv, o, arg_error)) {
    std::cerr << "swarmsim-gui: " << arg_error << "\n" << kUsage;
    return 2;
  }
  if (o.emit) return emit_events(o);
  if (!o.screenshot.empty())  // before the run, not after it
    if (const std::string problem = sim::output_file_problem(o.screenshot);
        !problem.empty()) {
      std::cerr << "swarmsim-gui: --screenshot " << o.screenshot << ": " << problem << '\n';
      return 2;
    }

  gui::AppState st;
  st.screenshot_mode = !o.screenshot.empty();
  st.speed = o.speed;
  if (o.input.empty())
    st.errors.push_back("no input: give a scenario file (SCENARIO.json) or a run directory (RUN_DIR); see --help");
  else
    gui::open_input(st, o.input, o.overrides, gui::self_executable());
  if (st.screenshot_mode) {
    gui::finish_live(st);  // the screenshot shows time T of the complete run
    const double end = gui::known_end(st);
    if (o.at > end + 1e-9 && st.errors.empty())
      std::cerr << "swarmsim-gui: --at " << o.at << " is past the end of the run (" << end << " s): showing the end\n";
    st.time = o.at < 0 ? end : std::min(o.at, end);
    st.playing = false;
  } else if (o.paused) {
    st.playing = false;
  }
  if (!o.select.empty() && st.errors.empty()) {
    const int h = st.timeline.info().host_index(o.select);
    if (h < 0) {
      std::cerr << "swarmsim-gui: --select " << o.select << ": no host of that name in the run\n";
      return 2;
    }
    st.selected_host = h;
    st.side_tab = 1;  // the Node tab
  }
  for (const std::string& e : st.errors) std::cerr << "swarmsim-gui: " << e << '\n';
  for (const std::string& w : st.warnings) std::cerr << "swarmsim-gui: warning: " << w << '\n';
  std::size_t errors_reported = st.errors.size();

  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::cerr << "swarmsim-gui: cannot open a window (no display? run headless under `xvfb-run -a`)\n";
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_RESIZABLE, st.screenshot_mode ? GLFW_FALSE : GLFW_TRUE);
  const std::string title = "swarmsim-gui: " + (o.input.empty() ? std::string("no input") : o.input);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, title.c_str(), nullptr, nullptr);
  if (!window) {
    std::cerr << "swarmsim-gui: cannot create an OpenGL 3.3 window (no display? run headless under `xvfb-run -a`)\n";
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(st.screenshot_mode ? 0 : 1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed, nothing to save
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 150");

  int exit_code = 0;
  double last = glfwGetTime();
  int frame = 0;
  while (!glfwWindowShouldClose(window)) {
    glfwPollEvents();
    const double now = glfwGetTime();
    if (!st.screenshot_mode) gui::app_tick(st, now - last);
    last = now;
    for (; errors_reported < st.errors.size(); ++errors_reported)
      std::cerr << "swarmsim-gui: " << st.errors[errors_reported] << '\n';
    errors_reported = std::min(errors_reported, st.errors.size());

    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window, &fw, &fh);
    gui::draw_app(st, fw, fh);
    ImGui::Render();
    glViewport(0, 0, fw, fh);
    glClearColor(0.06f, 0.07f, 0.09f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    // A few frames let ImGui settle its layout (window sizes, tab bars) before the capture.
    if (st.screenshot_mode && ++frame == 4) {
      std::string error;
      if (!write_png(o.screenshot, fw, fh, error)) {
        std::cerr << "swarmsim-gui: " << error << '\n';
        exit_code = 1;
      } else {
        std::cerr << "swarmsim-gui: wrote " << o.screenshot << " (" << fw << "x" << fh << ", t = " << st.time << " s)\n";
        if (!st.errors.empty()) exit_code = 2;
      }
      break;
    }
    glfwSwapBuffers(window);
  }
  st.child.stop();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}
