#include "rpc/protocol.hpp"

#include <iterator>
#include <string>

namespace rig::rpc {
namespace {

struct Named {
  int64_t value;
  const char* name;
};

const Named kTopics[] = {
    {0, "ANY"}, {1001, "HEARTBEAT"}, {2001, "EMERGENCY"}, {4001, "EVENT"}, {5001, "PROPERTY_CHANGE"},
    {6001, "COMMAND_RESULT"},
};

const CommandInfo kCommands[] = {
    {0, "NONE"},
    {100, "START_ACQUISITION"},
    {110, "STOP_ACQUISITION"},
    {200, "EMERGENCY_STOP"},
    {210, "EMERGENCY_RESUME"},
    {300, "GET_CONFIGURATION"},
    {400, "GET_STATUS"},
    {99999, "USER_DEFINED"},
};

const Named kResults[] = {
    {0, "UNRECOGNIZED"}, {100, "SUCCESS"}, {200, "PENDING"}, {201, "PENDING_WITH_NOTIFICATION"},
    {400, "FAILED"},     {500, "EXCEPTION"}, {9999, "UNAVAILABLE"},
};

const Named kErrorKinds[] = {{0, "NONE"}, {1, "SYSTEM_ERROR"}, {2, "COMMAND_ERROR"}};

const Named kAppStatus[] = {{0, "IDLE"}, {100, "ACQUIRING"}, {200, "CALIBRATION_DCS"}, {300, "CALIBRATION_3D"}};

const Named kTrainingModes[] = {{0, "UNDEFINED"}, {100, "MANUAL"}, {200, "MANUAL_WITH_PROTOCOL"}, {300, "AUTOMATIC"}};

// ApiEventKind, 0.9.11 complete (§9.6).
const Named kEventKinds[] = {
    {101, "emergencyStop"}, {102, "emergencyResume"}, {201, "applicationLaunched"},
    {202, "applicationTerminating"}, {301, "acquisitionStarted"}, {305, "acquisitionEnded"},
    {310, "calibrationDcsStarted"}, {315, "calibrationDcsEnded"}, {320, "calibration3dStarted"},
    {325, "calibration3dEnded"}, {501, "propertyChanged"}, {1001, "algorithmPause"},
    {1002, "algorithmResume"}, {1101, "tunnelEnter"}, {1102, "tunnelExit"}, {1201, "pelletLoadCan"},
    {1202, "pelletLoadBegin"}, {1203, "pelletLoadEnd"}, {1204, "pelletSendCan"}, {1205, "pelletSendBegin"},
    {1206, "pelletSendEnd"}, {1207, "pelletCoverCan"}, {1208, "pelletCoverBegin"}, {1209, "pelletCoverEnd"},
    {1210, "pelletReleaseCan"}, {1211, "pelletReleaseBegin"}, {1212, "pelletReleaseEnd"},
    {1213, "pelletHomeCan"}, {1214, "pelletHomeBegin"}, {1215, "pelletHomeEnd"},
    {1216, "pelletPrereleaseCan"}, {1217, "pelletPrereleaseBegin"}, {1218, "pelletPrereleaseEnd"},
    {1298, "pelletAcknowledgeToken"}, {1299, "pelletExternalToken"}, {1301, "sessionStarting"},
    {1302, "sessionStarted"}, {1303, "sessionEnding"}, {1304, "sessionEnded"},
    {1311, "sessionPelletIncrease"}, {1312, "sessionPelletDecrease"}, {1321, "sessionMouseSeen"},
    {1401, "dayStarted"}, {1411, "dayIncreasePellet"}, {1412, "dayDecreasePellet"}, {1501, "pelletSeen"},
    {1502, "pelletPresented"}, {1503, "pelletSuccessfulReach"}, {1550, "triangleSeen"},
    {1601, "headfixBaselineChanged"}, {1602, "headfixLoadCellChanged"},
    {1603, "headfixLoadCellChangedInIntersession"}, {1604, "headfixLoadCellChangedWrongState"},
    {1611, "headfixAutoTare"}, {1621, "autoClampIntensityChanged"}, {1622, "autoClampReleaseToneFreqChanged"},
    {1623, "autoClampReleaseDelayChanged"}, {1701, "intersessionSegmentationCan"},
    {1702, "intersessionSegmentationBegin"}, {1703, "intersessionSegmentationEnd"},
    {1704, "intersessionSegmentationNonceMismatch"}, {1705, "intersessionSegmentationError"},
    {1706, "intersessionSegmentationSave"}, {1707, "intersessionSegmentationSaveError"},
    {1708, "intersessionSegmentationInputError"}, {1711, "intersessionDetectionCan"},
    {1712, "intersessionDetectionBegin"}, {1713, "intersessionDetectionEnd"},
    {1714, "intersessionDetectionNonceMismatch"}, {1715, "intersessionDetectionError"},
    {1716, "intersessionDetectionSave"}, {1717, "intersessionDetectionSaveError"},
    {1731, "intersessionShiftX"}, {1732, "intersessionShiftY"}, {1733, "intersessionShiftZ"},
    {1801, "headFixationForceDetectorChanged"}, {1802, "headFixationEnabled"}, {2001, "deviceCommandSend"},
    {2002, "deviceCommandAcknowledge"}, {4001, "loadCellEngagedChanged"},
    {4011, "headbarPressureEngagedChanged"}, {5001, "trainingModeChanged"}, {5101, "trainingPlanLoad"},
    {5201, "trainingPhaseEnter"}, {5202, "trainingPhaseExit"}, {5501, "trainingProgressUpdate"},
    {9101, "alarmRaised"}, {9102, "alarmCleared"},  // rigagent's own (docs/hal.md)
};

template <typename Table>
const char* lookup(const Table& table, int64_t value) {
  for (const auto& e : table)
    if (e.value == value) return e.name;
  return nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x == '-') x = '_';
    if (y == '-') y = '_';
    if (std::toupper(static_cast<unsigned char>(x)) != std::toupper(static_cast<unsigned char>(y))) return false;
  }
  return true;
}

}  // namespace

const char* topic_name(uint32_t topic) { return lookup(kTopics, topic); }

std::optional<uint32_t> topic_from_name(std::string_view name) {
  for (const auto& e : kTopics)
    if (iequals(name, e.name)) return static_cast<uint32_t>(e.value);
  return std::nullopt;
}

const char* command_name(int64_t c) { return lookup(kCommands, c); }

std::optional<int64_t> command_from_name(std::string_view name) {
  for (const auto& e : kCommands)
    if (iequals(name, e.name)) return e.value;
  return std::nullopt;
}

bool is_known_command(int64_t c) { return command_name(c) != nullptr; }
const char* result_name(int64_t r) { return lookup(kResults, r); }
const char* error_kind_name(int64_t k) { return lookup(kErrorKinds, k); }
const char* event_kind_name(int64_t k) { return lookup(kEventKinds, k); }
const char* app_status_name(int64_t s) { return lookup(kAppStatus, s); }
const char* training_mode_name(int64_t m) { return lookup(kTrainingModes, m); }
const CommandInfo* commands_begin() { return std::begin(kCommands); }
const CommandInfo* commands_end() { return std::end(kCommands); }

}  // namespace rig::rpc
