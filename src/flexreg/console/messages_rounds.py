"""The console's messages for its rounds pages (key: (Chinese, English)); flexreg.console.i18n merges them.

Every key starts with `rounds_`: the pages' scripts take the catalogue by that prefix.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "rounds_intro": (
        "免费摊位按公开的抽签规则分配：开放轮次时公布种子承诺，截止后抽签，结果附带种子，任何人都可复核。",
        "Free pitches go out by a published draw: a round publishes its seed commitment when it opens, is drawn "
        "after the close, and its results carry the seed so that anyone can check them.",
    ),
    "rounds_list": ("本辖区的轮次", "This jurisdiction's rounds"),
    "rounds_none": ("还没有轮次。", "No rounds yet."),
    "rounds_name": ("名称", "Name"),
    "rounds_status": ("状态", "Status"),
    "rounds_status_open": ("报名中", "Open"),
    "rounds_status_closed": ("已截止，待抽签", "Closed, to be drawn"),
    "rounds_status_drawn": ("已抽签", "Drawn"),
    "rounds_closes_at": ("报名截止", "Applications close"),
    "rounds_term": ("使用期限", "Term"),
    "rounds_pitches": ("摊位数", "Pitches"),
    "rounds_applications": ("报名数", "Applications"),
    "rounds_choose_jurisdiction": ("选择街道", "Choose a street office's jurisdiction"),
    "rounds_show": ("显示", "Show"),
    "rounds_admin_pick": (
        "管理员请先选择街道，才能看到可分配的摊位。",
        "Choose a jurisdiction to see the pitches a round can offer.",
    ),
    "rounds_open_title": ("开放新一轮", "Open a round"),
    "rounds_pitch_choice": ("摊位（仅列出当前开放的）", "Pitches (open ones only)"),
    "rounds_venue_closed": ("场地已关闭或暂停", "venue closed or suspended"),
    "rounds_no_pitches": ("本辖区没有开放的摊位。", "This jurisdiction has no open pitch."),
    "rounds_term_start": ("使用期限开始日", "Term starts on"),
    "rounds_term_end": ("使用期限结束日", "Term ends on"),
    "rounds_close_at": ("报名截止时间", "Applications close at"),
    "rounds_close_help": (
        "按本市时间（UTC{offset}）。须晚于现在，且不晚于使用期限开始日零点。",
        "In the city's time (UTC{offset}). After now, and no later than the start of the term's first day.",
    ),
    "rounds_tiers": ("优先顺序", "Priority"),
    "rounds_tiers_default": (
        "默认：四类重点群体同为第一顺位，其他人其后",
        "Default: all four key groups first, everyone else after",
    ),
    "rounds_tiers_none": ("不设优先", "No priority"),
    "rounds_tiers_custom": ("自定义顺位", "Custom tiers"),
    "rounds_tiers_help": (
        "每个顺位至少包含两类群体（顺位是公开的，只含一类会暴露申请人的群体）。",
        "Each tier names at least two groups (tiers are public: a tier of one group would reveal its "
        "applicants' group).",
    ),
    "rounds_tier_of": ("{group} 的顺位", "Tier of {group}"),
    "rounds_tier_none": ("不优先", "No priority"),
    "rounds_tier_n": ("第 {n} 顺位", "Tier {n}"),
    "rounds_group_laid_off_unemployed": ("下岗失业人员", "Laid-off and unemployed"),
    "rounds_group_college_graduate": ("高校毕业生", "College graduates"),
    "rounds_group_migrant_worker": ("农民工", "Migrant workers"),
    "rounds_group_employment_difficulty": ("就业困难人员", "People with employment difficulty"),
    "rounds_beacon": ("使用公开信标（可选）", "Use a public beacon (optional)"),
    "rounds_beacon_help": (
        "信标是截止后才会出现的公开数值（如某期福彩开奖号码），抽签时混入，连本单位也无法事先知道结果。",
        "A beacon is a public value that exists only after the close (a stated lottery result); the draw mixes "
        "it in, so not even the office can know the outcome beforehand.",
    ),
    "rounds_beacon_description": ("信标说明", "Beacon description"),
    "rounds_beacon_after": ("信标公布时间", "Beacon available after"),
    "rounds_open_submit": ("开放本轮", "Open the round"),
    "rounds_opened": ("轮次已开放：{name}", "Round opened: {name}"),
    "rounds_commitment": ("种子承诺（SHA-256）", "Seed commitment (SHA-256)"),
    "rounds_commitment_explain": (
        "这是现在就已固定的一个秘密随机种子的哈希值。种子在抽签时随结果一起公布，任何人都可以核对它的哈希与此值一致。"
        "因为种子在看到任何报名之前就已固定，本单位无法在看到报名后更换种子来左右结果。请公开此值（如张贴在公告栏）。",
        "This is the hash of a secret random seed fixed now. The seed is revealed with the results, and anyone "
        "can check that its hash is this value. Because the seed is fixed before anyone applies, nobody can "
        "change it after seeing the applications. Publish this value (on the notice board, for instance).",
    ),
    "rounds_open_page": ("打开本轮页面", "Open the round's page"),
    "rounds_refused": ("未能开放：{detail}", "Not opened: {detail}"),
    "rounds_fix_fields": ("请修改标出的内容。", "Please correct the fields marked."),
    "rounds_signed_out": ("登录已过期，请重新登录。", "Your session has expired; sign in again."),
    "rounds_network": ("网络错误，未能提交。", "Network error: nothing was sent."),
    "rounds_pick_pitch": ("请至少选择一个摊位。", "Choose at least one pitch."),
    "rounds_back": ("全部轮次", "All rounds"),
    "rounds_terms": ("本轮条件", "Terms"),
    "rounds_priority": ("优先顺位", "Priority tiers"),
    "rounds_priority_none": ("不设优先，全部同一顺位", "No priority: everyone in one tier"),
    "rounds_priority_last": ("其他人：第 {n} 顺位", "Everyone else: tier {n}"),
    "rounds_beacon_named": ("信标", "Beacon"),
    "rounds_refresh": ("刷新报名数", "Refresh the count"),
    "rounds_refreshed": ("已更新：{count} 份报名，状态：{status}。", "Updated: {count} applications, {status}."),
    "rounds_draw_title": ("抽签", "The draw"),
    "rounds_draw_not_yet": (
        "报名截止（{time}）后才能抽签。",
        "The draw can run once applications have closed ({time}).",
    ),
    "rounds_draw_explain": (
        "抽签只能进行一次：冻结报名名单，按公开算法排序并依次分配，结果立即公开。",
        "The draw runs once: it freezes the applications, orders them by the published algorithm, hands out the "
        "pitches in turn and publishes the results at once.",
    ),
    "rounds_beacon_value": ("信标数值（与公布的完全一致）", "The beacon's value, exactly as published"),
    "rounds_draw_submit": ("进行抽签", "Run the draw"),
    "rounds_drawing": ("正在抽签…", "Drawing…"),
    "rounds_drawn_ok": ("抽签完成，正在显示结果…", "Drawn; showing the results…"),
    "rounds_claims_pending": (
        "还有报名人在截止前提交的重点群体认定尚未审核，暂不能抽签（否则顺位会因审核先后而不同）。"
        "请先在“重点群体核验”中审核完这些申请，再回来抽签。",
        "Some applicants' key-group claims, filed before the close, are still undecided, so the draw cannot run "
        "yet (tiers must not depend on when staff decide). Decide them under Key-group verification, then draw.",
    ),
    "rounds_claims_link": ("去审核重点群体认定", "Go to key-group verification"),
    "rounds_still_open": ("报名尚未截止，不能抽签。", "Applications have not closed yet."),
    "rounds_already_drawn": ("本轮已经抽过签。", "This round has already been drawn."),
    "rounds_beacon_not_yet": ("信标尚未公布，请在公布后再抽签。", "The beacon is not out yet; draw once it is."),
    "rounds_draw_refused": ("未能抽签：{detail}", "Not drawn: {detail}"),
    "rounds_reload": ("查看最新状态", "See the current state"),
    "rounds_results": ("抽签结果", "Results"),
    "rounds_drawn_at": ("抽签时间", "Drawn at"),
    "rounds_seed": ("种子", "Seed"),
    "rounds_seed_check": ("种子与承诺核对", "Seed against commitment"),
    "rounds_check_running": ("正在本浏览器中计算种子的 SHA-256…", "Computing the seed's SHA-256 in this browser…"),
    "rounds_check_ok": (
        "✓ 一致：种子的 SHA-256 与开放时公布的承诺相同。",
        "✓ Matches: the seed's SHA-256 is the commitment published at the opening.",
    ),
    "rounds_check_bad": (
        "✗ 不一致：种子的 SHA-256 与承诺不同，结果不可信。",
        "✗ Does NOT match: the seed's SHA-256 differs from the commitment. Do not trust these results.",
    ),
    "rounds_check_unavailable": (
        "此浏览器无法计算（需要 HTTPS）；请用下面的命令核对。",
        "This browser cannot compute it (it needs HTTPS); use the command below.",
    ),
    "rounds_digest": ("报名名单摘要", "Applications digest"),
    "rounds_order": ("抽签顺序", "Draw order"),
    "rounds_position": ("序号", "Position"),
    "rounds_applicant": ("申请人编号（匿名）", "Applicant ref (pseudonymous)"),
    "rounds_tier": ("顺位", "Tier"),
    "rounds_lottery_key": ("抽签码", "Lottery key"),
    "rounds_choices": ("志愿", "Choices"),
    "rounds_assignments": ("分配结果", "Assignments"),
    "rounds_pitch": ("摊位", "Pitch"),
    "rounds_choice_rank": ("第几志愿", "Choice"),
    "rounds_waiting_list": ("候补名单", "Waiting list"),
    "rounds_waiting_empty": ("无人候补。", "Nobody is waiting."),
    "rounds_verify": ("如何核验", "How to verify"),
    "rounds_verify_explain": (
        "任何人都可以用公开结果独立重算整个抽签（算法见 docs/draw.md）：",
        "Anyone can recompute the whole draw from the public results alone (the algorithm: docs/draw.md):",
    ),
    "rounds_results_json": ("公开结果（JSON）", "The public results (JSON)"),
    "rounds_holdings": ("摊位使用情况", "Who holds what"),
    "rounds_holder": ("持有人", "Holder"),
    "rounds_source": ("来源", "Source"),
    "rounds_source_draw": ("抽签", "Draw"),
    "rounds_source_waiting_list": ("候补递补", "Waiting list"),
    "rounds_allocation_status": ("状态", "Status"),
    "rounds_allocation_held": ("使用中", "Held"),
    "rounds_allocation_released": ("已放弃", "Released"),
    "rounds_next_in_line": ("放弃后递补给", "If released, goes to"),
    "rounds_nobody": ("无人", "nobody"),
    "rounds_no_holdings": ("本轮没有分配出摊位。", "This round allocated no pitch."),
    "rounds_release_explain": (
        "摊位只能由持有人本人在手机应用中放弃，工作台不能代为放弃。放弃后，摊位自动递补给候补名单中第一位选过该摊位、"
        "本轮尚未获得摊位且同期未持有其他摊位的申请人，期限从放弃当日至期满；公开结果保持抽签时的内容不变。",
        "Only the holder can give up a pitch (in the phone app); the console cannot release one for them. A "
        "release passes the pitch to the first on the waiting list who chose it, has had nothing in this round "
        "and holds no other pitch for an overlapping term, from that day to the term's end; the public results "
        "stay those of the draw.",
    ),
    "rounds_still_waiting": ("仍在候补", "Still waiting"),
}
