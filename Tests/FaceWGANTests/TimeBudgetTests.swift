import FaceWGAN
import XCTest

/// `--time-budget`'s durations as users write them, and their canonical text in config.json.
final class TimeBudgetTests: XCTestCase {
    func testDurationsAsWritten() {
        for (text, seconds) in [("90m", 5400.0), ("1h30m", 5400), ("3600s", 3600), ("3600", 3600), ("1.5h", 5400),
                                ("2h5s", 7205), ("45s", 45), (" 10m ", 600), ("1H", 3600), ("0.5s", 0.5)] {
            XCTAssertEqual(TimeBudget(settingText: text)?.seconds, seconds, text)
        }
        for text in ["", "h", "1h30", "30m1h", "1m1m", "1d", "-", "1h-5m", "inf", "nan", "1.2.3m", "m30"] {
            XCTAssertNil(TimeBudget(settingText: text), text)
        }
    }

    func testCanonicalTextReadsBackToTheSameSeconds() {
        for seconds in [5400.0, 3600, 60, 59, 90.5, 7205, 172_801] as [Double] {
            let text = TimeBudget(seconds: seconds).settingText
            XCTAssertEqual(TimeBudget(settingText: text)?.seconds, seconds, text)
        }
        XCTAssertEqual(TimeBudget(seconds: 5400).settingText, "1h30m")
        XCTAssertEqual(TimeBudget(seconds: 45 * 60).settingText, "45m")
    }

    func testTheSettingRefusesNothingToSpend() {
        var request = TrainingRequest(out: "run")
        request.giveText(key: TrainingSettings.timeBudget.key, "0s")
        XCTAssertEqual(request.invalidSetting()?.description, "--time-budget must be a positive duration")
        request.giveText(key: TrainingSettings.timeBudget.key, "soon")
        XCTAssertEqual(request.invalidSetting()?.description, "--time-budget is not a valid value")
        request.giveText(key: TrainingSettings.timeBudget.key, "1h")
        XCTAssertNil(request.invalidSetting())
    }
}
