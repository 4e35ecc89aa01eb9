/* HealthTrack: search the food catalogue as you type (nutrition diary, "Add food or drink").
 *
 * Progressive enhancement of a plain GET search form: without this file the form submits and
 * the server lists the results. With it, typing asks GET /api/v1/foods?search= (the session
 * cookie authenticates it) and redraws the same list of links in place. No inline script, no
 * innerHTML with data: every node is built with textContent (Content-Security-Policy, XSS). */
(function () {
  "use strict";

  var form = document.querySelector("[data-food-search]");
  if (!form || !window.fetch) {
    return;
  }
  var input = form.querySelector("input[type=search]");
  var list = document.getElementById(input.getAttribute("aria-controls"));
  var status = document.getElementById(input.getAttribute("aria-describedby"));
  var apiUrl = form.getAttribute("data-api-url");
  var chooseUrl = form.getAttribute("data-choose-url"); // /0/ (then maybe ?member=): the food id goes there
  var timer = null;
  var latest = 0;

  function link(food) {
    var item = document.createElement("li");
    item.className = "food-result";
    var anchor = document.createElement("a");
    anchor.href = chooseUrl.replace(/\/0\/(\?|$)/, "/" + encodeURIComponent(food.id) + "/$1");
    var name = document.createElement("span");
    name.className = "food-name";
    name.textContent = food.name;
    var energy = document.createElement("span");
    energy.className = "small muted";
    energy.textContent = Math.round(food.per_100g.calories) + " kcal per 100 g";
    anchor.appendChild(name);
    anchor.appendChild(document.createTextNode(" "));
    anchor.appendChild(energy);
    item.appendChild(anchor);
    return item;
  }

  function show(foods, query, more) {
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    foods.forEach(function (food) {
      list.appendChild(link(food));
    });
    if (!foods.length) {
      status.textContent =
        "No food matches “" + query + "”. Try fewer or other words, or add a custom entry.";
    } else {
      status.textContent =
        foods.length + (foods.length === 1 ? " food" : " foods") + " found" +
        (more ? " (the first " + foods.length + ": type more to narrow it)." : ".");
    }
  }

  function search() {
    var query = input.value.trim();
    if (query.length < 2) {
      if (!query) {
        show([], "", false);
        status.textContent = "Type a name to search.";
      }
      return;
    }
    var ticket = ++latest;
    status.textContent = "Searching…";
    fetch(apiUrl + "?search=" + encodeURIComponent(query), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (page) {
        if (ticket === latest) {
          show(page.results || [], query, Boolean(page.next));
        }
      })
      .catch(function () {
        if (ticket === latest) {
          status.textContent = "Search is not available right now: press Search instead.";
        }
      });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 200);
  });
  // Keep the URL shareable and the page usable: Enter still submits the plain form.
})();
