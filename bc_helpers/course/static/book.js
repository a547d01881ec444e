// The book's search: every page whose text holds all the words typed, from the index in search-index.js.
(function () {
  var nav = document.querySelector(".book-nav");
  var input = nav.querySelector(".book-search");
  var results = nav.querySelector(".book-results");
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    results.textContent = "";
    if (!words.length) return;
    (window.BOOK_SEARCH || []).forEach(function (page) {
      var text = page.text.toLowerCase();
      if (!words.every(function (w) { return text.indexOf(w) >= 0; })) return;
      var at = text.indexOf(words[0]);
      var item = document.createElement("li");
      var link = document.createElement("a");
      var excerpt = document.createElement("span");
      link.href = nav.dataset.root + page.href;
      link.textContent = page.title;
      excerpt.textContent = "\\u2026" + page.text.slice(Math.max(0, at - 50), at + 90) + "\\u2026";
      item.append(link, excerpt);
      results.append(item);
    });
    if (!results.children.length) results.textContent = "No page holds every word.";
  });
})();
