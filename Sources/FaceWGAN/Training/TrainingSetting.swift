import Foundation

/// A value a training setting holds. Checkpoint metadata records it as text, config.json as a JSON
/// value; both read back to the same value (a Float through its shortest round-trip text).
public protocol TrainingSettingValue: Equatable, Sendable {
    /// The value of a flag's or a metadata entry's text; nil when the text is not one.
    init?(settingText: String)
    /// The text checkpoint metadata records ("0.0002", "10.0", "true", "layer").
    var settingText: String { get }
    /// The value of a config.json member; nil when the member has another type.
    init?(json: JSONValue)
    var json: JSONValue { get }
}

extension Int: TrainingSettingValue {
    public init?(settingText: String) { self.init(settingText.trimmingBlanks()) }
    public var settingText: String { String(self) }
    public init?(json: JSONValue) {
        switch json {
        case .integer(let value): self.init(exactly: value)
        case .unsigned(let value): self.init(exactly: value)
        default: return nil
        }
    }
    public var json: JSONValue { .integer(Int64(self)) }
}

extension UInt64: TrainingSettingValue {
    public init?(settingText: String) { self.init(settingText.trimmingBlanks()) }
    public var settingText: String { String(self) }
    public init?(json: JSONValue) {
        switch json {
        case .integer(let value): self.init(exactly: value)
        case .unsigned(let value): self = value
        default: return nil
        }
    }
    public var json: JSONValue { self <= UInt64(Int64.max) ? .integer(Int64(self)) : .unsigned(self) }
}

extension Float: TrainingSettingValue {
    public init?(settingText: String) { self.init(settingText.trimmingBlanks()) }
    public var settingText: String { "\(self)" }
    /// Through the number's shortest text, so that 0.0002 read as a Double gives Float("0.0002").
    public init?(json: JSONValue) {
        switch json {
        case .integer, .unsigned, .number: self.init(json.text)
        default: return nil
        }
    }
    public var json: JSONValue { .number(Double(settingText) ?? Double(self)) }
}

extension Bool: TrainingSettingValue {
    public init?(settingText: String) { self.init(String(settingText.trimmingBlanks())) }
    public var settingText: String { String(self) }
    public init?(json: JSONValue) {
        guard case .bool(let value) = json else { return nil }
        self = value
    }
    public var json: JSONValue { .bool(self) }
}

extension String: TrainingSettingValue {
    public init?(settingText: String) { self = settingText }
    public var settingText: String { self }
    public init?(json: JSONValue) {
        guard case .string(let value) = json else { return nil }
        self = value
    }
    public var json: JSONValue { .string(self) }
}

extension ModelConfiguration.CriticNorm: TrainingSettingValue {
    public init?(settingText: String) { self.init(rawValue: String(settingText.trimmingBlanks())) }
    public var settingText: String { rawValue }
    public init?(json: JSONValue) {
        guard case .string(let value) = json else { return nil }
        self.init(rawValue: value)
    }
    public var json: JSONValue { .string(rawValue) }
}

/// What `--resume` does with a setting that is given again.
public enum ResumeRule: Sendable {
    /// Expected to change (`--steps`): taken silently.
    case free
    /// Taken, and the change is logged ("resume: lr changes from 0.0002 to 0.0001").
    case logged
    /// Part of the model: a different value is an error.
    case fixed
}

/// One row of the settings table (`TrainingSettings`): a setting named once, with its flag, its key
/// in checkpoint metadata and config.json (snake_case in both), its default, its allowed range and
/// what resume may do with it. `TrainingOptions` holds values by these keys.
public struct TrainingSetting<Value: TrainingSettingValue>: Sendable {
    /// The key in config.json's "options" and, when `inCheckpoint`, in checkpoint metadata.
    public let key: String
    /// "--lr".
    public let flag: String
    /// What the setting does, for `--help`.
    public let summary: String
    /// nil: no value unless one is given (`--data`, `--eval-every`'s rule).
    public let defaultValue: Value?
    /// How the default reads in `--help` when it is not just the value.
    public let defaultText: String?
    /// Recorded in checkpoint metadata, which resume reads before config.json.
    public let inCheckpoint: Bool
    public let resume: ResumeRule
    /// The dotted config.json path before issue 20's snake_case ("hyperparameters.learningRate"), read on resume.
    public let formerKey: String?
    /// "must be a positive number"; `allows` says which values meet it.
    public let requirement: String
    public let allows: @Sendable (Value) -> Bool

    public init(key: String, flag: String, summary: String, defaultValue: Value?, defaultText: String? = nil,
                inCheckpoint: Bool = false, resume: ResumeRule = .logged, formerKey: String? = nil,
                requirement: String = "", allows: @escaping @Sendable (Value) -> Bool = { _ in true }) {
        self.key = key
        self.flag = flag
        self.summary = summary
        self.defaultValue = defaultValue
        self.defaultText = defaultText
        self.inCheckpoint = inCheckpoint
        self.resume = resume
        self.formerKey = formerKey
        self.requirement = requirement
        self.allows = allows
    }

    /// The option's long name for swift-argument-parser ("lr").
    public var longName: String { String(flag.dropFirst(2)) }

    /// The `--help` text: the summary and the default.
    public var help: String {
        guard let shown = defaultText ?? defaultValue?.settingText else { return summary + "." }
        return "\(summary) (default: \(shown))."
    }

    /// The value of `text`, or why it is not one.
    func parse(_ text: String) -> Result<Value, SettingProblem> {
        Value(settingText: text).map(check) ?? .failure(.notAValue)
    }

    func check(_ value: Value) -> Result<Value, SettingProblem> {
        allows(value) ? .success(value) : .failure(.outOfRange(requirement))
    }
}

enum SettingProblem: Error {
    case notAValue
    case outOfRange(String)

    var requirement: String {
        switch self {
        case .notAValue: return "is not a valid value"
        case .outOfRange(let requirement): return requirement
        }
    }
}

/// A row with its value type erased, for the code that walks the whole table (resolution, config.json,
/// checkpoint metadata, resume comparison).
public struct AnyTrainingSetting: Sendable {
    public let key: String
    public let flag: String
    public let inCheckpoint: Bool
    public let resume: ResumeRule
    public let formerKey: String?
    public let requirement: String
    /// Parses and checks text into a value, or says what is wrong.
    let parseText: @Sendable (String) -> Result<any TrainingSettingValue, SettingProblem>
    let parseJSON: @Sendable (JSONValue) -> Result<any TrainingSettingValue, SettingProblem>
    let defaultValue: (any TrainingSettingValue)?
    let same: @Sendable (any TrainingSettingValue, any TrainingSettingValue) -> Bool

    public init<Value>(_ setting: TrainingSetting<Value>) {
        key = setting.key
        flag = setting.flag
        inCheckpoint = setting.inCheckpoint
        resume = setting.resume
        formerKey = setting.formerKey
        requirement = setting.requirement
        parseText = { text in setting.parse(text).map { $0 } }
        parseJSON = { json in (Value(json: json).map(setting.check) ?? .failure(.notAValue)).map { $0 } }
        defaultValue = setting.defaultValue
        same = { ($0 as? Value) == ($1 as? Value) }
    }
}
