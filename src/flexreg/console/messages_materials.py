"""The console's messages for an application's materials on the task page (key: (Chinese, English));
flexreg.console.i18n merges them."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "materials_logged": (
        "申请人提交的材料（含补正材料）在本页预览；每次预览和下载均记入个人信息访问日志。",
        "The applicant's documents (supplements included) are previewed on this page; every preview and download "
        "is written to the personal-data access log.",
    ),
    "materials_image": ("图片材料 {n}", "Image {n}"),
    "materials_pdf": ("PDF 材料 {n}", "PDF document {n}"),
    "materials_missing": ("材料 {n} 无法查看。", "Document {n} cannot be shown."),
    "materials_download": ("下载", "Download"),
    "materials_pdf_fallback": (
        "本浏览器无法在此显示 PDF，请下载查看。",
        "This browser cannot show the PDF here; download it instead.",
    ),
    "materials_pdf_failed": ("PDF 无法加载，请使用下载链接。", "The PDF could not be loaded; use the download link."),
}
