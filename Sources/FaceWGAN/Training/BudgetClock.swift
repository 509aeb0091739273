import Foundation

/// `--time-budget`: the wall time a run may spend over all its invocations, start-up included.
struct BudgetClock {
    /// nil: no budget.
    let budget: Double?
    /// What earlier invocations spent up to the resumed checkpoint (RUN/time.json).
    let spentBefore: Double
    /// When this invocation started.
    let start: Date

    var spent: Double { spentBefore + Date().timeIntervalSince(start) }
    var left: Double? { budget.map { max(0, $0 - spent) } }
    var isSpent: Bool { left == 0 }

    /// Whether another step as long as the last one still ends within the budget.
    func allows(another stepSeconds: Double) -> Bool {
        budget.map { spent + stepSeconds <= $0 } ?? true
    }
}
